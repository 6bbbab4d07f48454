//! Single flight in isolation: followers get the leader's answer, follow its stream live,
//! share its failure, and start over when it is abandoned.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use heimdall_cache::answer::{CachedAnswer, StoredAnswer};
use heimdall_cache::flight::{FlightOutcome, Flights, Joined, Progress};
use heimdall_schema::chat::{ChatChunk, ChatResponse};
use heimdall_schema::error::GatewayError;

fn leader(flights: &Arc<Flights>, key: &str) -> heimdall_cache::flight::LeaderSlot {
    match flights.join(key, 1 << 20) {
        Joined::Leader(s) => s,
        Joined::Follower(_) => panic!("expected to lead"),
    }
}

fn follower(flights: &Arc<Flights>, key: &str) -> Arc<heimdall_cache::flight::Flight> {
    match flights.join(key, 1 << 20) {
        Joined::Follower(f) => f,
        Joined::Leader(_) => panic!("expected to follow"),
    }
}

fn chunk(text: &str) -> ChatChunk {
    serde_json::from_value(serde_json::json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    }))
    .unwrap()
}

#[tokio::test]
async fn followers_receive_the_leaders_answer() {
    let flights = Arc::new(Flights::default());
    let slot = leader(&flights, "k");
    let f = follower(&flights, "k");
    let waiting = tokio::spawn(async move { f.wait(false).await });
    let answer = StoredAnswer {
        provider: Some("p".into()),
        model: Some("m".into()),
        answer: CachedAnswer::Chat(ChatResponse::default()),
        question: None,
    };
    slot.flight()
        .finish(FlightOutcome::Answer(Arc::new(answer.clone())));
    match waiting.await.unwrap() {
        Progress::Done(FlightOutcome::Answer(a)) => assert_eq!(*a, answer),
        other => panic!("{other:?}"),
    }
    // Until released, a new arrival joins the finished flight; after, it leads a new one.
    let _late = follower(&flights, "k");
    slot.release();
    assert!(flights.is_empty());
    let _next = leader(&flights, "k");
}

#[tokio::test]
async fn a_follower_streams_the_leaders_chunks_as_they_arrive() {
    let flights = Arc::new(Flights::default());
    let slot = leader(&flights, "k");
    let f = follower(&flights, "k");
    slot.flight().push_chat(&chunk("a"));
    assert!(matches!(f.wait(true).await, Progress::Streaming));
    let (first, mut rest) = f.follow_chat().unwrap();
    assert_eq!(
        first.choices[0].delta.content.as_ref().unwrap().as_deref(),
        Some("a")
    );
    let leader_flight = Arc::clone(slot.flight());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader_flight.push_chat(&chunk("b"));
        leader_flight.push_chat(&chunk("c"));
        leader_flight.finish(FlightOutcome::Answer(Arc::new(StoredAnswer {
            provider: None,
            model: None,
            answer: CachedAnswer::ChatStream(vec![]),
            question: None,
        })));
    });
    let mut texts = Vec::new();
    while let Some(c) = rest.next().await {
        let c = c.unwrap();
        texts.push(c.choices[0].delta.content.clone().unwrap().unwrap());
    }
    assert_eq!(texts, ["b", "c"]);
    slot.release();
}

#[tokio::test]
async fn followers_share_a_failure_and_start_over_when_the_leader_leaves() {
    let flights = Arc::new(Flights::default());
    let slot = leader(&flights, "k");
    let f = follower(&flights, "k");
    slot.flight()
        .finish(FlightOutcome::Failed(GatewayError::internal("boom")));
    assert!(matches!(
        f.wait(false).await,
        Progress::Done(FlightOutcome::Failed(_))
    ));
    slot.release();
    // A leader dropped without settling (its client left): followers are told to start over.
    let slot = leader(&flights, "k2");
    let f = follower(&flights, "k2");
    drop(slot);
    assert!(matches!(
        f.wait(false).await,
        Progress::Done(FlightOutcome::Abandoned)
    ));
    let _new = leader(&flights, "k2");
}

#[tokio::test]
async fn a_stream_past_the_buffer_cap_fails_the_flight_instead_of_growing() {
    let flights = Arc::new(Flights::default());
    let slot = match flights.join("k", 1000) {
        Joined::Leader(s) => s,
        Joined::Follower(_) => panic!("expected to lead"),
    };
    let f = follower(&flights, "k");
    for _ in 0..10 {
        slot.flight().push_chat(&chunk(&"x".repeat(200)));
    }
    assert!(slot.flight().chat_chunks().len() < 10);
    assert!(matches!(
        f.wait(false).await,
        Progress::Done(FlightOutcome::Failed(_))
    ));
}
