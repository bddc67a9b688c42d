//! Errors as JavaScript sees them: an `Error` with a stable `code`.

use embedgate_core::EmbedError;
use wasm_bindgen::JsValue;

/// The `code` of errors caused by a wrong argument (type, range, missing
/// field) rather than by the URL scheme's rules.
pub const INVALID_ARGUMENT: &str = "invalid_argument";

/// A refusal from the core as a JS `Error` named `EmbedError`, with `code`
/// set to the spec §3 reason code. The message never contains a secret.
pub fn embed_error(e: &EmbedError) -> JsValue {
    let message = [e.code(), ": ", e.detail()].concat();
    coded(js_sys::Error::new(&message), "EmbedError", e.code())
}

/// A wrong argument as a JS `TypeError` with `code` `invalid_argument`.
pub fn invalid_argument(message: &str) -> JsValue {
    let err: js_sys::Error = js_sys::TypeError::new(message).into();
    coded(err, "TypeError", INVALID_ARGUMENT)
}

fn coded(err: js_sys::Error, name: &str, code: &str) -> JsValue {
    err.set_name(name);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}
