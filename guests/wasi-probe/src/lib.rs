//! A plain `std` guest that probes what WASI lets it do.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

wit_bindgen::generate!({ path: "../wit/test.wit", world: "wasi-probe" });

struct Probe;

impl Guest for Probe {
    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    }

    fn write_file(path: String, contents: String) -> Result<(), String> {
        std::fs::write(&path, contents).map_err(|e| e.to_string())
    }

    fn list_dir(path: String) -> Result<Vec<String>, String> {
        let mut names = std::fs::read_dir(&path)
            .map_err(|e| e.to_string())?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        names.sort();
        Ok(names)
    }

    fn get_env(name: String) -> Option<String> {
        std::env::var(name).ok()
    }

    fn print(msg: String) -> Result<(), String> {
        let mut out = std::io::stdout();
        writeln!(out, "{msg}")
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn connect(addr: String, line: String) -> Result<(), String> {
        use wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
        let addr: std::net::SocketAddrV4 = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
        let [a, b, c, d] = addr.ip().octets();
        let network = wasi::sockets::instance_network::instance_network();
        let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
            .map_err(|e| format!("socket: {e:?}"))?;
        let remote = IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: addr.port(),
            address: (a, b, c, d),
        });
        socket
            .start_connect(&network, remote)
            .map_err(|e| format!("connect: {e:?}"))?;
        let ready = socket.subscribe();
        let (_input, output) = loop {
            match socket.finish_connect() {
                Ok(streams) => break streams,
                Err(ErrorCode::WouldBlock) => ready.block(),
                Err(e) => return Err(format!("connect: {e:?}")),
            }
        };
        output
            .blocking_write_and_flush(format!("{line}\n").as_bytes())
            .map_err(|e| format!("write: {e:?}"))
    }

    fn http_get(authority: String, path: String) -> Result<(u16, String), String> {
        use wasi::http::outgoing_handler;
        use wasi::http::types::{Fields, IncomingBody, OutgoingRequest, Scheme};
        let request = OutgoingRequest::new(Fields::new());
        request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme")?;
        request
            .set_authority(Some(&authority))
            .map_err(|()| "authority")?;
        request
            .set_path_with_query(Some(&path))
            .map_err(|()| "path")?;
        let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
        let response = loop {
            match pending.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(e))) => return Err(format!("{e:?}")),
                Some(Err(())) => return Err("response taken twice".into()),
                None => pending.subscribe().block(),
            }
        };
        let status = response.status();
        let body = response.consume().map_err(|()| "body")?;
        let stream = body.stream().map_err(|()| "stream")?;
        let mut data = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(format!("reading: {e:?}")),
            }
        }
        drop(stream);
        let _ = IncomingBody::finish(body);
        Ok((status, String::from_utf8_lossy(&data).into_owned()))
    }
}

export!(Probe);
