//! A front on each connection, before hyper: request targets that Node's `http` server takes as they are but
//! hyper refuses with 400 (`<`, `>` or a backtick in the path, `"` in the query; the `http` crate's tables) or
//! takes differently (a fragment, bytes above 0x7f, which Node refuses with 400), and heads that Node's own
//! limits apply to (more than 100 header lines, a size near its 16 KiB), are reduced to a marker target and
//! the headers that frame the message, and `respond` hands the request back: the provider then re-sends the
//! original to Node, which answers it as it does. hyper then never parses a large head.
//!
//! The front follows the connection's framing to know where each request head starts: it reads heads up to
//! their empty line and passes `Content-Length` bodies through. Anything else (chunked bodies, upgrades,
//! CONNECT, a head beyond 1 MiB, a head it cannot read) makes it step aside for the rest of the connection,
//! which then reaches hyper unchanged.

use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const MAX_HEAD: usize = 1 << 20;

/// The marker target, random per process: `/.containerless-refused-<hex>`.
pub fn marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut out = String::from("/.containerless-refused-");
        for i in 0..2u64 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i ^ std::process::id() as u64);
            out.push_str(&format!("{:016x}", h.finish()));
        }
        out
    })
}

/// Whether hyper would refuse or read differently a request target that Node takes as it is.
pub fn target_needs_node(target: &[u8]) -> bool {
    let query = target
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(target.len());
    target.iter().enumerate().any(|(i, &b)| {
        b >= 0x80
            || b == b'#'
            || b == b'<'
            || b == b'>'
            || (i < query && b == b'`')
            || (i > query && b == b'"')
    })
}

enum State {
    Head,
    Body(u64),
    Aside,
}

pub struct Front<S> {
    inner: S,
    state: State,
    head: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
}

impl<S> Front<S> {
    pub fn new(inner: S) -> Front<S> {
        Front {
            inner,
            state: State::Head,
            head: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
        }
    }

    /// Takes bytes read from the client; what hyper should see goes to `out`.
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                State::Aside => {
                    self.out.extend_from_slice(data);
                    return;
                }
                State::Body(rest) => {
                    let n = (rest.min(data.len() as u64)) as usize;
                    self.out.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    self.state = if rest == n as u64 {
                        State::Head
                    } else {
                        State::Body(rest - n as u64)
                    };
                }
                State::Head => {
                    // Empty lines before a request line pass as they are.
                    if self.head.is_empty() {
                        let blank = data
                            .iter()
                            .take_while(|&&b| b == b'\r' || b == b'\n')
                            .count();
                        self.out.extend_from_slice(&data[..blank]);
                        data = &data[blank..];
                        if data.is_empty() {
                            return;
                        }
                    }
                    // A whole head in what was read (the usual case): passed on from there, not copied.
                    if self.head.is_empty() {
                        if let Some(end) = head_end(data, 0) {
                            self.state = self.pass_head(&data[..end]);
                            data = &data[end..];
                            continue;
                        }
                    }
                    let from = self.head.len().saturating_sub(3);
                    self.head.extend_from_slice(data);
                    data = &[];
                    match head_end(&self.head, from) {
                        Some(end) => {
                            let rest = self.head.split_off(end);
                            let head = std::mem::take(&mut self.head);
                            self.state = self.pass_head(&head);
                            // The bytes after the head go round again.
                            self.feed(&rest);
                            return;
                        }
                        None if self.head.len() > MAX_HEAD => {
                            let head = std::mem::take(&mut self.head);
                            self.out.extend_from_slice(&head);
                            self.state = State::Aside;
                        }
                        None => {}
                    }
                }
            }
        }
    }

    /// Writes `head` to `out`, as it is or, for a request that must go to Node, reduced to the marker
    /// target and the headers that frame the message; the state after it.
    fn pass_head(&mut self, head: &[u8]) -> State {
        let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
        let line = &head[..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Method, target, version: exactly three parts.
        let mut split = line.split(|&b| b == b' ');
        let (method, target, version) = (split.next(), split.next(), split.next());
        let parts = match (method, target, version, split.next()) {
            (Some(m), Some(t), Some(v), None) => Some((m, t, v)),
            _ => None,
        };
        let mut next = State::Head;
        if parts.is_none_or(|(m, _, _)| m == b"CONNECT") {
            next = State::Aside;
        }
        let mut length: Option<u64> = None;
        let mut lines = 0usize;
        // What Node counts against its limit: the target, header names and values.
        let mut counted = target.map_or(0, |t| t.len());
        let header_lines = || {
            head[line_end.min(head.len())..]
                .split(|&b| b == b'\n')
                .filter_map(|l| {
                    let l = l.strip_suffix(b"\r").unwrap_or(l);
                    let colon = l.iter().position(|&b| b == b':')?;
                    Some((l, &l[..colon], trim(&l[colon + 1..])))
                })
        };
        for (_, name, value) in header_lines() {
            lines += 1;
            counted += name.len() + value.len();
            if name.eq_ignore_ascii_case(b"transfer-encoding")
                || name.eq_ignore_ascii_case(b"upgrade")
            {
                next = State::Aside;
            } else if name.eq_ignore_ascii_case(b"content-length") {
                let n = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok());
                match (n, length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(m)) if n == m => {}
                    _ => next = State::Aside,
                }
            }
        }
        let to_node = parts.filter(|(_, target, _)| {
            target_needs_node(target)
                || lines > super::MAX_HEADER_LINES
                || counted >= super::NODE_MAX_HEADER_COUNT_BYTES / 2
        });
        if let Some((method, _, version)) = to_node {
            self.out.extend_from_slice(method);
            self.out.push(b' ');
            self.out.extend_from_slice(marker().as_bytes());
            self.out.push(b' ');
            self.out.extend_from_slice(version);
            self.out.extend_from_slice(b"\r\n");
            const FRAMING: [&str; 6] = [
                "transfer-encoding",
                "upgrade",
                "content-length",
                "expect",
                "connection",
                "host",
            ];
            for (l, name, _) in header_lines() {
                if FRAMING
                    .iter()
                    .any(|k| name.eq_ignore_ascii_case(k.as_bytes()))
                {
                    self.out.extend_from_slice(l);
                    self.out.extend_from_slice(b"\r\n");
                }
            }
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.out.extend_from_slice(head);
        }
        match (next, length) {
            (State::Head, Some(n)) if n > 0 => State::Body(n),
            (s, _) => s,
        }
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

/// Where the head ends (after its empty line: `\n\n` or `\n\r\n`), searching from `from`.
fn head_end(head: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < head.len() {
        if head[i] == b'\n' {
            if head.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if head.get(i + 1) == Some(&b'\r') && head.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

impl<S: AsyncRead + Unpin> AsyncRead for Front<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if let State::Aside = this.state {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            // Not zeroed first: the socket fills what it reads, and only that is looked at.
            let mut tmp = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
            let mut rb = ReadBuf::uninit(&mut tmp);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            let data = rb.filled();
            if data.is_empty() {
                // The client is done: a partial head goes to hyper as it is.
                if this.head.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                let head = std::mem::take(&mut this.head);
                this.out.extend_from_slice(&head);
                this.state = State::Aside;
                continue;
            }
            this.feed(data);
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Front<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(chunks: &[&[u8]]) -> Vec<u8> {
        let mut f = Front::new(());
        for c in chunks {
            f.feed(c);
        }
        f.out
    }

    #[test]
    fn targets_hyper_refuses_become_the_marker_and_bodies_pass_untouched() {
        let body = b"GET /a<b HTTP/1.1\r\n\r\n";
        let req = format!("POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len());
        let mut input = req.into_bytes();
        input.extend_from_slice(body);
        input.extend_from_slice(
            b"GET /a<b>?q=\"1\" HTTP/1.1\r\nHost: a\r\n\r\nGET /ok?x=`{|}` HTTP/1.1\r\n\r\n",
        );
        let expected = {
            let mut e =
                format!("POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            e.extend_from_slice(body);
            e.extend_from_slice(
                format!(
                    "GET {} HTTP/1.1\r\nHost: a\r\n\r\nGET /ok?x=`{{|}}` HTTP/1.1\r\n\r\n",
                    marker()
                )
                .as_bytes(),
            );
            e
        };
        // Whole, and one byte at a time.
        assert_eq!(through(&[&input]), expected);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(through(&bytes), expected);
    }

    #[test]
    fn heads_beyond_the_limits_are_reduced_to_the_marker_and_their_framing() {
        let mut input = b"POST /x HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..101 {
            input.extend_from_slice(format!("x-h{}: {}\r\n", i, i).as_bytes());
        }
        input.extend_from_slice(b"Content-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nx-big: ");
        input.extend(std::iter::repeat_n(b'a', 9000));
        input.extend_from_slice(b"\r\n\r\n");
        let expected = format!(
            "POST {m} HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET {m} HTTP/1.1\r\n\r\n",
            m = marker()
        );
        assert_eq!(String::from_utf8(through(&[&input])).unwrap(), expected);
    }

    #[test]
    fn steps_aside_on_framing_it_does_not_follow() {
        let input = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<GET >\r\n0\r\n\r\nGET /a<b HTTP/1.1\r\n\r\n";
        assert_eq!(through(&[input]), input.to_vec());
    }

    #[test]
    fn what_needs_node() {
        for t in ["/a<b", "/a>b", "/a`b", "/a?q=\"", "/a#f", "/é", "/a?<"] {
            let t: Vec<u8> = t.bytes().collect();
            assert!(target_needs_node(&t), "{:?}", String::from_utf8_lossy(&t));
        }
        for t in ["/", "/a?q=`", "/{a}|b^c\\d", "/a\"b", "/a?x=%20&y=[1]"] {
            assert!(!target_needs_node(t.as_bytes()), "{}", t);
        }
    }
}
