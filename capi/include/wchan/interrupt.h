/*
 * wchan/interrupt.h: one wchan extension to OpenBSD's interface, from wchan-capi.
 *
 * wchan_interrupt() ends the calling thread's __thrsleep in progress with EINTR, unless a
 * __thrwakeup has already taken it off its queue; outside a sleep it does nothing. It is
 * async-signal-safe and meant for a signal handler that has just set the flag the sleep was
 * given as `abort`:
 *
 *     static void on_cancel(int sig) { (void)sig; self->cancel_flag = 1; wchan_interrupt(); }
 *
 * __thrsleep reads *abort after it queued the thread and before it blocks; a signal that
 * lands between that read and the wait would otherwise leave the thread asleep (OpenBSD's
 * kernel closes that window itself by checking for pending signals before sleeping). With
 * the flag and this call, a signal landing before the read is seen by the read, and one
 * landing after it makes the wait return at once. On targets without futexes the sleep
 * notices it at its next wake or deadline.
 */
#ifndef WCHAN_INTERRUPT_H
#define WCHAN_INTERRUPT_H

#ifdef __cplusplus
extern "C" {
#endif

void wchan_interrupt(void);

#ifdef __cplusplus
}
#endif

#endif /* WCHAN_INTERRUPT_H */
