/* A contract violation that Rust reports with a panic (a misaligned lock) must not unwind
 * into C: the library prints a line and aborts. The test expects SIGABRT and the line. */
#include "harness.h"

int main(void) {
    watchdog(10);
    static int words[4];
    _spinlock((volatile _atomic_lock_t *)((char *)words + 1));
    puts("unreachable: _spinlock returned");
    return 0;
}
