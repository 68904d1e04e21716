//! Example `wasi:http` handlers, served with `airssys-wasm serve`.
//!
//! The last segment of the path picks the handler, so a route's prefix
//! can be anything:
//! - `…/echo`: answers the request's body;
//! - `…/fetch?url=http://HOST:PORT/PATH`: makes an outgoing GET request
//!   (allowed only where the tenant's policy grants the host) and answers
//!   its status and body, or 502 naming the error;
//! - anything else: `hello from AUTHORITY PATH`.

use std::io::{Read as _, Write as _};

use wasi::http::outgoing_handler;
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};

wasi::http::proxy::export!(Hello);

struct Hello;

impl wasi::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (route, query) = path.split_once('?').unwrap_or((&path, ""));
        match route.rsplit('/').next().unwrap_or("") {
            "echo" => {
                let body = read_body(request);
                respond(out, 200, &body);
            }
            "fetch" => {
                let url = query.strip_prefix("url=").unwrap_or("");
                match fetch(url) {
                    Ok((status, body)) => respond(out, status, &body),
                    Err(e) => respond(out, 502, format!("outbound request failed: {e}\n").as_bytes()),
                }
            }
            _ => {
                let authority = request.authority().unwrap_or_default();
                respond(out, 200, format!("hello from {authority} {route}\n").as_bytes());
            }
        }
    }
}

/// The whole body of the request (what arrived before an error).
fn read_body(request: IncomingRequest) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(body) = request.consume() {
        if let Ok(mut stream) = body.stream() {
            let _ = stream.read_to_end(&mut bytes);
        }
        drop(IncomingBody::finish(body));
    }
    bytes
}

/// A GET of `url` (`http://AUTHORITY/PATH`): its status and body.
fn fetch(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "path")?;
    let body = request.body().map_err(|()| "body")?;
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(format!("{e:?}")),
        Some(Err(())) | None => return Err("no response".into()),
    };
    let status = response.status();
    let mut bytes = Vec::new();
    if let Ok(body) = response.consume() {
        if let Ok(mut stream) = body.stream() {
            let _ = stream.read_to_end(&mut bytes);
        }
    }
    Ok((status, bytes))
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::new();
    let _ = headers.set("content-type", &[b"text/plain".to_vec()]);
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(mut stream) = outgoing.write() {
        let _ = stream.write_all(body);
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
