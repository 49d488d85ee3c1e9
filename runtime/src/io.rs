//! What the host provides a request's code for I/O: outgoing HTTP requests (`fetch`, the Containerless
//! API's `get` and `post`), started and then waited for. The dispatcher's implementation is
//! `builtins::fetch::HttpIo`; tests provide their own.

use crate::cx::Abort;
use std::time::Instant;

/// Outgoing HTTP, as the host makes it.
pub trait Io {
    /// Starts a request; returns a handle.
    fn start_fetch(&mut self, req: HttpRequest) -> Result<u32, Abort>;
    /// Waits for a started request.
    fn wait_fetch(&mut self, handle: u32) -> Result<HttpResponse, Abort>;
}

/// An outgoing request, as it goes on the wire: the header list is complete (host, connection, the
/// program's headers, undici's defaults, content-length), in order.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// When the request that made this call runs out of time; the host gives up on the call then.
    pub deadline: Option<Instant>,
}

/// A whole response: header names in lower case, values as Latin-1 text (one char per byte).
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub status_text: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub url: String,
}
