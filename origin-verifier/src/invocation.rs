//! One Lambda invocation: whatever payload arrives, a verdict or `Unauthorized`.
//!
//! `lambda_runtime` deserializes the payload into the handler's event type and, when
//! that fails, reports its own error to Lambda: API Gateway answers 500, and the reason
//! never reaches our logs or metrics. [`Invocation`] accepts every payload, and
//! [`Authorizer::answer_at`] refuses what it cannot verify (an unreadable payload, a
//! `TOKEN` or WebSocket event, an event missing the fields a verdict needs) with the one
//! Lambda error API Gateway understands as a refusal, `Unauthorized` (401).

use edgeseal::UnixTime;
use serde::{Deserialize, Deserializer};

use crate::cache::SecretsSource;
use crate::event::AuthorizerEvent;
use crate::handler::Authorizer;
use crate::response::{AuthorizerError, AuthorizerResponse};

/// An invocation payload: an event this authorizer can read, or not.
// One per invocation, built in place and never moved around: no box needed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Invocation {
    /// JSON of the event shape (whether it is an event this authorizer verifies is the
    /// handler's question).
    Event(AuthorizerEvent),
    /// Anything else: not JSON, not an object, fields of the wrong type.
    Unreadable,
}

impl<'de> Deserialize<'de> for Invocation {
    /// Never fails. `lambda_runtime` (1.x) reads the payload with
    /// `serde_json::Deserializer::from_slice` and does not check for input after the
    /// value, so a payload abandoned half-way is `Unreadable`, not a runtime error; if a
    /// later version checked, such a payload would end in that runtime error: refused
    /// all the same.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(AuthorizerEvent::deserialize(deserializer)
            .map_or(Invocation::Unreadable, Invocation::Event))
    }
}

impl Invocation {
    /// Read a payload the way the runtime does (see [`Invocation::deserialize`]).
    pub fn from_payload(bytes: &[u8]) -> Self {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        Invocation::deserialize(&mut deserializer).unwrap_or(Invocation::Unreadable)
    }
}

impl<S: SecretsSource> Authorizer<S> {
    /// Answer an invocation with the system clock.
    pub async fn answer(
        &self,
        invocation: &Invocation,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        self.answer_at(UnixTime::now(), invocation).await
    }

    /// Answer an invocation as of `now`: the handler's verdict, or `Unauthorized` for
    /// every payload that is not an event it can verify (logged and counted as
    /// `bad_event` by the handler).
    pub async fn answer_at(
        &self,
        now: UnixTime,
        invocation: &Invocation,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        static UNREADABLE: std::sync::OnceLock<AuthorizerEvent> = std::sync::OnceLock::new();
        let event = match invocation {
            Invocation::Event(event) => event,
            Invocation::Unreadable => {
                tracing::warn!("the payload is not an authorizer event (JSON of the wrong shape)");
                UNREADABLE.get_or_init(AuthorizerEvent::default)
            }
        };
        match self.handle_at(now, event).await {
            Err(AuthorizerError::BadEvent(_)) => Err(AuthorizerError::Unauthorized),
            answer => answer,
        }
    }
}
