//! Lowering the CPU priority of the log writer's thread, so request handling wins the CPU.
//!
//! Why its own module: it is the one place the project calls the OS directly (`SCHED_IDLE` has
//! no safe wrapper in the crates we use), and it is Linux-only; elsewhere it does nothing.

use heimdall_config::WriterPriority;

/// Apply `priority` to the calling thread (and so to the threads it starts). Best effort: a
/// refusal is logged and the thread keeps its priority.
pub(crate) fn lower_current_thread(priority: WriterPriority) {
    #[cfg(target_os = "linux")]
    {
        let result = match priority {
            WriterPriority::Normal => Ok(()),
            WriterPriority::Low => {
                rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10)
                    .map_err(std::io::Error::from)
            }
            WriterPriority::Idle => sched_idle(),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, ?priority, "log writer keeps normal CPU priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = priority;
}

/// `sched_setscheduler(0, SCHED_IDLE)` for the calling thread.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn sched_idle() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid, initialised `sched_param` that outlives the call; pid 0 is
    // the calling thread; the call reads `param` and has no other memory effects.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
