//! A bare hyper server for `npm run bench:dispatcher`: answers every request with the bytes the greeting
//! handler's dispatcher answers (status, headers, body), doing nothing else, on the same tokio and hyper
//! setup as the dispatcher (multi-thread runtime, HTTP/1.1, title-case headers). It is the floor the
//! dispatcher's own cost is measured against. Dev-only: `cargo run --release --example bare_hyper`.
//!
//! Environment: `port` (8080), `bind` (127.0.0.1). Prints `{"msg":"listening",...}` on stderr once bound.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

const BODY: &[u8] = b"Hello, world";

async fn answer(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut r = Response::new(Full::new(Bytes::from_static(BODY)));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
    h.insert(
        ETAG,
        HeaderValue::from_static("W/\"c-4CqhsQbVx8apje8rEwBdW4T9jcg\""),
    );
    h.insert("x-duration-seconds", HeaderValue::from_static("0.000010"));
    Ok(r)
}

fn main() {
    let port: u16 = std::env::var("port")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let bind: std::net::IpAddr = std::env::var("bind")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((bind, port))
            .await
            .expect("bind");
        eprintln!(
            "{{\"msg\":\"listening\",\"address\":\"{}\"}}",
            listener.local_addr().expect("address")
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .title_case_headers(true)
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
}
