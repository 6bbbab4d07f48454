//! ConverseStream bodies as they arrive: bytes fed to the event-stream decoder, events to the
//! pure translator (`heimdall_dialects::bedrock::stream`), a cut body or a transport error
//! turned into a typed error item.

use std::collections::VecDeque;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use heimdall_schema::chat::ChatChunk;
use heimdall_schema::error::{ErrorKind, GatewayError};

pub use heimdall_dialects::bedrock::stream::*;

use crate::http::stream_interrupted;

fn tag(provider: &str, mut e: GatewayError) -> GatewayError {
    if e.provider.is_none() {
        e.message = format!("provider '{provider}': {}", e.message);
        e = e.with_provider(provider);
    }
    e
}

/// Stream the translated chunks of an event-stream body (ConverseStream or
/// InvokeModelWithResponseStream).
pub fn converse_stream<S, T>(
    provider: String,
    body: S,
    translator: T,
) -> impl Stream<Item = Result<ChatChunk, GatewayError>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Send + Unpin + 'static,
    T: EventStreamTranslator,
{
    struct St<S> {
        body: S,
        buf: BytesMut,
        decoder: MessageFrameDecoder,
        ready: VecDeque<Result<ChatChunk, GatewayError>>,
        done: bool,
    }
    let st = St {
        body,
        buf: BytesMut::new(),
        decoder: MessageFrameDecoder::new(),
        ready: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold((st, translator), move |(mut st, mut t)| {
        let provider = provider.clone();
        async move {
            loop {
                if let Some(item) = st.ready.pop_front() {
                    return Some((item, (st, t)));
                }
                if st.done {
                    return None;
                }
                match st.body.next().await {
                    Some(Ok(bytes)) => {
                        st.buf.extend_from_slice(&bytes);
                        let mut out = Vec::new();
                        loop {
                            match st.decoder.decode_frame(&mut st.buf) {
                                Ok(DecodedFrame::Complete(m)) => {
                                    match t.on_event(&event_of(&m), &mut out) {
                                        Ok(false) => {}
                                        Ok(true) => {
                                            st.done = true;
                                            break;
                                        }
                                        Err(e) => {
                                            st.done = true;
                                            st.ready.extend(out.drain(..).map(Ok));
                                            st.ready.push_back(Err(tag(&provider, e)));
                                            break;
                                        }
                                    }
                                }
                                Ok(DecodedFrame::Incomplete) => break,
                                Err(e) => {
                                    st.done = true;
                                    st.ready.extend(out.drain(..).map(Ok));
                                    st.ready.push_back(Err(tag(
                                        &provider,
                                        GatewayError::new(
                                            ErrorKind::UpstreamProtocol,
                                            format!("sent an unreadable event-stream frame: {e}"),
                                        ),
                                    )));
                                    break;
                                }
                            }
                        }
                        st.ready.extend(out.into_iter().map(Ok));
                    }
                    Some(Err(e)) => {
                        st.done = true;
                        st.ready.push_back(Err(stream_interrupted(&provider, &e)));
                    }
                    None => {
                        st.done = true;
                        if let Err(e) = t.on_body_end() {
                            st.ready.push_back(Err(tag(&provider, e)));
                        }
                    }
                }
            }
        }
    })
}
