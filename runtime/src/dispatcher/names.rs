//! The texts the dispatcher uses on every request (property names of the event and the context, the
//! template's method names, header names and values it writes), made once instead of per request:
//! UTF-16 keys as constants (`utf16!`), and the `JsStr`s property maps and header values hold, once per
//! thread (a `JsStr` is reference-counted: handing one out is a count increment, not a copy).

use crate::value::JsStr;

/// `s` as UTF-16 code units, at compile time; `s` must be ASCII of length `N`.
pub(crate) const fn ascii<const N: usize>(s: &str) -> [u16; N] {
    let b = s.as_bytes();
    assert!(b.len() == N);
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        assert!(b[i] < 0x80);
        out[i] = b[i] as u16;
        i += 1;
    }
    out
}

/// An ASCII literal as a `&'static [u16]`, made at compile time.
macro_rules! utf16 {
    ($s:literal) => {{
        const UNITS: [u16; $s.len()] = $crate::dispatcher::names::ascii($s);
        &UNITS as &'static [u16]
    }};
}
pub(crate) use utf16;

macro_rules! names {
    ($($name:ident = $text:literal,)*) => {
        /// A text whose `JsStr` is made once per thread (`js`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(clippy::upper_case_acronyms)]
        pub(crate) enum Name { $($name,)* }

        const TEXTS: &[&str] = &[$($text,)*];
    };
}

names! {
    Body = "body",
    Headers = "headers",
    Method = "method",
    Query = "query",
    Path = "path",
    StatusCode = "statusCode",
    Cb = "cb",
    HeaderValues = "headerValues",
    CbCalled = "cbCalled",
    TextPlain = "text/plain",
    TextHtmlUtf8 = "text/html; charset=utf-8",
    ApplicationJsonUtf8 = "application/json; charset=utf-8",
    Get = "GET",
    Head = "HEAD",
    Post = "POST",
    Put = "PUT",
    Delete = "DELETE",
    Patch = "PATCH",
    Options = "OPTIONS",
}

thread_local! {
    static JS: Vec<JsStr> = TEXTS.iter().map(|t| JsStr::from(*t)).collect();
}

/// The `JsStr` of `n`, shared by every use on this thread.
#[inline]
pub(crate) fn js(n: Name) -> JsStr {
    JS.with(|v| v[n as usize].clone())
}

/// The `JsStr` of a method the dispatcher serves (`request::METHODS`).
pub(crate) fn method(m: &str) -> JsStr {
    let n = match m {
        "GET" => Name::Get,
        "HEAD" => Name::Head,
        "POST" => Name::Post,
        "PUT" => Name::Put,
        "DELETE" => Name::Delete,
        "PATCH" => Name::Patch,
        "OPTIONS" => Name::Options,
        other => return JsStr::from(other),
    };
    js(n)
}

/// The text of `n`.
pub(crate) fn text(n: Name) -> &'static str {
    TEXTS[n as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hold_their_texts() {
        assert_eq!(js(Name::CbCalled).to_rust_string(), "cbCalled");
        assert_eq!(text(Name::TextHtmlUtf8), "text/html; charset=utf-8");
        assert_eq!(
            utf16!("statusCode"),
            &"statusCode".encode_utf16().collect::<Vec<u16>>()[..]
        );
        assert_eq!(TEXTS.len(), Name::Options as usize + 1);
    }
}
