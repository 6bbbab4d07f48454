//! The record of a request whose client left before its answer.
//!
//! Why a drop guard: when a client closes the connection, the server drops the handler's
//! future — and the engine's `execute` with it — at whatever `.await` it was parked on. No
//! code after that point runs, so the `post` hooks (which write the request's record) never
//! see it. The guard owns the request's context while the engine works; if it is dropped still
//! armed, the future was abandoned, and it hands the context to the pipeline's
//! `on_abandoned` hooks (the request logger writes a 499 record). Streams have their own
//! guard: an observed stream dropped mid-way ends with `client_disconnected`.

use crate::context::RequestContext;
use crate::plugin::Pipeline;

/// Owns a request's context until the engine has an answer.
pub(crate) struct AbandonGuard<'p> {
    ctx: Option<RequestContext>,
    pipeline: &'p Pipeline,
}

impl<'p> AbandonGuard<'p> {
    /// Arm the guard over `ctx`.
    pub(crate) fn new(ctx: RequestContext, pipeline: &'p Pipeline) -> Self {
        Self {
            ctx: Some(ctx),
            pipeline,
        }
    }

    /// The guarded context.
    pub(crate) fn ctx(&mut self) -> &mut RequestContext {
        // Always `Some` until `disarm` consumes the guard.
        self.ctx.get_or_insert_with(|| {
            RequestContext::new(String::new(), crate::Operation::Chat, String::new())
        })
    }

    /// The engine has an answer: take the context back; nothing is reported.
    pub(crate) fn disarm(mut self) -> RequestContext {
        self.ctx.take().unwrap_or_else(|| {
            RequestContext::new(String::new(), crate::Operation::Chat, String::new())
        })
    }
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take()
            && !self.pipeline.is_empty()
        {
            self.pipeline.on_abandoned(&ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::plugin::Plugin;

    struct Counting(Arc<AtomicUsize>);

    impl Plugin for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn on_abandoned(&self, ctx: &RequestContext) {
            assert_eq!(ctx.request_id, "r1");
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn ctx() -> RequestContext {
        RequestContext::new("r1".into(), crate::Operation::Chat, "m".into())
    }

    #[test]
    fn reports_only_when_dropped_armed() {
        let n = Arc::new(AtomicUsize::new(0));
        let pipeline = Pipeline::new(vec![Arc::new(Counting(Arc::clone(&n)))]);
        let mut g = AbandonGuard::new(ctx(), &pipeline);
        g.ctx().attempts = 1;
        let back = g.disarm();
        assert_eq!(back.attempts, 1);
        assert_eq!(n.load(Ordering::SeqCst), 0);
        drop(AbandonGuard::new(ctx(), &pipeline));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
