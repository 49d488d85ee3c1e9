use crate::builtins::BuiltinDef;
use crate::cx::{Cx, JsResult};
use crate::value::{ObjRef, Value};

pub static DEFS: &[&BuiltinDef] = &[];

#[derive(Clone, Debug)]
pub struct FetchRequest {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
pub struct FetchResponse {
    pub status: u16,
    pub status_text: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub url: String,
}

#[derive(Clone, Debug)]
pub struct ResponseData {
    pub resp: FetchResponse,
    pub body_used: bool,
}

pub fn host_get(cx: &mut Cx, o: ObjRef, key: &[u16]) -> JsResult<Option<Value>> {
    let _ = (cx, o, key);
    Ok(None)
}
