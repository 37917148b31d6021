#ifndef KPRUNE_CPROCESS_H
#define KPRUNE_CPROCESS_H

/// Asks the kernel to send `signal` to this process when its parent dies (`prctl(PR_SET_PDEATHSIG)`,
/// which Swift cannot call: `prctl` is variadic). Returns 0, or -1 with errno set.
int kp_set_parent_death_signal(int signal);

#endif
