//! Answering from a stored answer in the shape the client asked for: a stream replays the
//! stored chunks (or chunks derived from a stored response), a non-streamed request gets the
//! stored response (or one assembled from stored chunks). The server then renders it in the
//! client's own dialect like any answer, usage included.

use futures::stream;
use heimdall_core::{GatewayResponse, Operation, PreOutcome, PreStream};

use crate::answer::{CachedAnswer, StoredAnswer};
use crate::assemble;

/// The answer for a request of `operation` that does (`stream`) or does not want a stream;
/// `None` when the stored answer is of another operation or empty.
pub fn outcome(stored: &StoredAnswer, operation: Operation, stream: bool) -> Option<PreOutcome> {
    match (&stored.answer, operation, stream) {
        (CachedAnswer::Chat(r), Operation::Chat, false) => {
            Some(PreOutcome::Respond(GatewayResponse::Chat(r.clone())))
        }
        (CachedAnswer::ChatStream(c), Operation::Chat, false) => Some(PreOutcome::Respond(
            GatewayResponse::Chat(assemble::chat_response_from_chunks(c)?),
        )),
        (CachedAnswer::Chat(r), Operation::Chat, true) => {
            chat_stream(assemble::chat_chunks_from_response(r))
        }
        (CachedAnswer::ChatStream(c), Operation::Chat, true) => chat_stream(c.clone()),
        (CachedAnswer::Completion(r), Operation::Completion, false) => {
            Some(PreOutcome::Respond(GatewayResponse::Completion(r.clone())))
        }
        (CachedAnswer::CompletionStream(c), Operation::Completion, false) => {
            Some(PreOutcome::Respond(GatewayResponse::Completion(
                assemble::completion_response_from_chunks(c)?,
            )))
        }
        (CachedAnswer::Completion(r), Operation::Completion, true) => {
            completion_stream(assemble::completion_chunks_from_response(r))
        }
        (CachedAnswer::CompletionStream(c), Operation::Completion, true) => {
            completion_stream(c.clone())
        }
        _ => None,
    }
}

fn chat_stream(chunks: Vec<heimdall_schema::chat::ChatChunk>) -> Option<PreOutcome> {
    let mut it = chunks.into_iter();
    let first = it.next()?;
    Some(PreOutcome::Stream(PreStream::Chat(
        first,
        Box::pin(stream::iter(it.map(Ok))),
    )))
}

fn completion_stream(
    chunks: Vec<heimdall_schema::completions::CompletionChunk>,
) -> Option<PreOutcome> {
    let mut it = chunks.into_iter();
    let first = it.next()?;
    Some(PreOutcome::Stream(PreStream::Completion(
        first,
        Box::pin(stream::iter(it.map(Ok))),
    )))
}
