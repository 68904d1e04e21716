//! Hostile `wasi:http` handlers, for the server's tests: each tries to
//! hold the server, and must be cut off while other tenants are served.
//! The last segment of the path picks one:
//! - `…/loop`: loops for ever;
//! - `…/alloc`: allocates without bound;
//! - `…/stream`: answers 200 and streams a 1 GiB body;
//! - `…/sleep?ms=N`: waits N milliseconds in the host (wasi:clocks),
//!   then answers 200;
//! - anything else: 200 `ok`.

use std::io::Write as _;

use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasi::http::proxy::export!(Hostile);

struct Hostile;

impl wasi::exports::http::incoming_handler::Guest for Hostile {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (route, query) = path.split_once('?').unwrap_or((&path, ""));
        match route.rsplit('/').next().unwrap_or("") {
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    held.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&held);
                }
            }
            "stream" => {
                let response = OutgoingResponse::new(Fields::new());
                let Ok(body) = response.body() else { return };
                ResponseOutparam::set(out, Ok(response));
                let Ok(mut stream) = body.write() else { return };
                let chunk = vec![b'x'; 64 << 10];
                for _ in 0..(1u32 << 14) {
                    if stream.write_all(&chunk).is_err() {
                        return;
                    }
                }
                let _ = stream.flush();
                drop(stream);
                let _ = OutgoingBody::finish(body, None);
            }
            "sleep" => {
                let ms: u64 = query.strip_prefix("ms=").and_then(|v| v.parse().ok()).unwrap_or(0);
                wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
                respond(out, b"slept\n");
            }
            _ => respond(out, b"ok\n"),
        }
    }
}

fn respond(out: ResponseOutparam, body: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
    let Ok(outgoing) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(mut stream) = outgoing.write() {
        let _ = stream.write_all(body);
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
