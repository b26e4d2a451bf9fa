//! Echoes the request id (the caller's own when plausible, else a fresh one; see
//! [`crate::telemetry::RequestIdValue`]) in `X-Request-Id`, so a client can quote the id
//! that every log line of its request carries.

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::telemetry::RequestIdValue;

/// The response header that echoes the request id (also in every log line of the request).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Inside the tracing span (which assigns the id) and around everything else.
pub async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestIdValue>().cloned();
    // A middleware's error (the request deadline) becomes a response only outside every
    // middleware, where this header cannot be added; every other answer carries it.
    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(id) = request_id
        && let Ok(value) = HeaderValue::from_str(&id.0)
    {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}
