/* The header alone, in strict ISO C (and, as header.cc's source, C++): it must compile
 * without feature macros and declare exactly the documented API. */
#include <wchan/thrsleep.h>

int (*const sleep_fn)(const volatile void *, clockid_t, const struct timespec *, volatile void *, const int *) = __thrsleep;
int (*const wake_fn)(const volatile void *, int) = __thrwakeup;
void (*const lock_fn)(volatile _atomic_lock_t *) = _spinlock;
int (*const try_fn)(volatile _atomic_lock_t *) = _spinlocktry;
void (*const unlock_fn)(volatile _atomic_lock_t *) = _spinunlock;

int main(void) {
    _atomic_lock_t l = _SPINLOCK_UNLOCKED;
    int ok = _ATOMIC_LOCK_UNLOCKED == 0 && _ATOMIC_LOCK_LOCKED == 1 && try_fn(&l) == 1 && l == _ATOMIC_LOCK_LOCKED;
    unlock_fn(&l);
    return ok && l == _ATOMIC_LOCK_UNLOCKED && wake_fn(&l, 0) != 0 ? 0 : 1;
}
