//! A truncated input must be an I/O error, not a crash.
//!
//! probe-run maps its input. When another process truncates the file while it
//! is read, touching a page past the new end raises SIGBUS, which would kill
//! the process. Each mapping is registered here while it is in use; the
//! SIGBUS handler maps a page of zeros over the faulting address when it lies
//! in a registered mapping and marks that mapping as truncated, so the read
//! continues (on zeros) and the caller reports an I/O error instead of a
//! verdict. A SIGBUS anywhere else gets the default action, as before.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Mappings watched at once: probe-run has one input per worker thread.
const SLOTS: usize = 64;
/// START value of a slot being filled in.
const CLAIMED: usize = usize::MAX;

static START: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static END: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static HIT: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();

/// A registered mapping; unregistered on drop (before the mapping goes).
pub struct Watch {
    slot: Option<usize>,
}

impl Watch {
    /// Watch `len` bytes at `addr`. Without a free slot the mapping is not
    /// watched (a SIGBUS then kills the process, as without this module).
    pub fn new(addr: *const u8, len: usize) -> Self {
        INSTALL.call_once(install);
        let start = addr as usize;
        let slot = (0..SLOTS).find(|&i| {
            START[i]
                .compare_exchange(0, CLAIMED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        if let Some(i) = slot {
            HIT[i].store(false, Ordering::SeqCst);
            END[i].store(start.saturating_add(len), Ordering::SeqCst);
            START[i].store(start, Ordering::SeqCst);
        }
        Self { slot }
    }

    /// Did a read of the mapping fault because the file had shrunk?
    pub fn faulted(&self) -> bool {
        self.slot.is_some_and(|i| HIT[i].load(Ordering::SeqCst))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            // Claimed again first, so the handler stops matching the range
            // before the slot is freed.
            START[i].store(CLAIMED, Ordering::SeqCst);
            END[i].store(0, Ordering::SeqCst);
            START[i].store(0, Ordering::SeqCst);
        }
    }
}

fn install() {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if let Ok(p) = usize::try_from(page) {
        if p.is_power_of_two() {
            PAGE_SIZE.store(p, Ordering::SeqCst);
        }
    }
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
    // the handler has the SA_SIGINFO signature and only uses atomics and
    // mmap, which may be called from a signal handler.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::SeqCst);
    for i in 0..SLOTS {
        let start = START[i].load(Ordering::SeqCst);
        if start == 0 || start == CLAIMED {
            continue;
        }
        if addr >= start && addr < END[i].load(Ordering::SeqCst) {
            let at = addr & !(page - 1);
            // SAFETY: `at` is a page inside a private, read-only file
            // mapping that this process owns and keeps mapped while it is
            // registered; replacing that page with anonymous zeros only
            // changes what the reader sees there.
            let r = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if r != libc::MAP_FAILED {
                HIT[i].store(true, Ordering::SeqCst);
                return;
            }
        }
    }
    // Not ours: the default action, so the fault kills the process as it
    // would have without this handler.
    // SAFETY: signal() with SIG_DFL has no preconditions.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}
