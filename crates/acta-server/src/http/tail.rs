//! `GET /v1/events/tail`: Server-Sent Events of matching events as the store publishes them.

use std::convert::Infallible;

use acta_query::{Compiled, PreparedEvent};
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::access::auth::Principal;
use crate::access::scope::{account_of, instances_in_scope};
use crate::error::{ApiError, QueryParams};
use crate::http::events::SearchParams;
use crate::state::AppState;

/// `GET /v1/events/tail`: Server-Sent Events of matching events as they are accepted.
pub(crate) async fn tail(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    principal.require("reader")?;
    let query = acta_query::parse(params.q.as_deref().unwrap_or("")).map_err(|error| ApiError::query(&error))?;
    let account = account_of(&principal, params.account.as_deref())?;
    let instances = instances_in_scope(&state.store, &principal, &account, params.instance.as_deref()).await?;
    let allowed: Vec<String> = instances.iter().map(|instance| instance.id.clone()).collect();
    let compiled = Compiled::new(&query);
    let mut receiver = state.store.publisher().subscribe();
    let mut stopping = state.stopping.clone();
    let stream = async_stream_events(move |sender| async move {
        loop {
            let next = tokio::select! {
                next = receiver.recv() => next,
                _ = stopping.wait_for(|stopping| *stopping) => return,
            };
            let event = match next {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    let notice = SseEvent::default().event("lagged").data(format!("{missed} events were skipped"));
                    if sender.send(notice).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if event.account != account || !allowed.contains(&event.instance) {
                continue;
            }
            if !event.with_view(|view| compiled.matches(&PreparedEvent::new(*view))) {
                continue;
            }
            let received = acta_cadf::format_time(event.received_ns);
            let mut value = (*event.value).clone();
            if let Value::Object(object) = &mut value {
                object.insert(
                    "_acta".to_string(),
                    json!({"account": event.account, "instance": event.instance, "region": event.region,
                           "received": received, "seq": event.seq, "id": event.id}),
                );
            }
            let message = SseEvent::default().event("event").data(value.to_string());
            if sender.send(message).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Runs a producer task and streams what it sends, ending when it stops or the client goes away.
fn async_stream_events<F, Fut>(producer: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<SseEvent>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(256);
    tokio::spawn(producer(sender));
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(receiver), Ok)
}
