//! A plain `std` guest that probes what WASI lets it do: files,
//! environment, stdout and the clock (src/files.rs), sockets and wasi:http.

mod files;

wit_bindgen::generate!({ path: "../wit/test.wit", world: "wasi-probe" });

struct Probe;

impl Guest for Probe {
    fn read_file(path: String) -> Result<String, String> {
        files::read_file(path)
    }

    fn write_file(path: String, contents: String) -> Result<(), String> {
        files::write_file(path, contents)
    }

    fn rename_file(from: String, to: String) -> Result<(), String> {
        files::rename_file(from, to)
    }

    fn remove_file(path: String) -> Result<(), String> {
        files::remove_file(path)
    }

    fn list_dir(path: String) -> Result<Vec<String>, String> {
        files::list_dir(path)
    }

    fn get_env(name: String) -> Option<String> {
        files::get_env(name)
    }

    fn print(msg: String) -> Result<(), String> {
        files::print(msg)
    }

    fn now_secs() -> u64 {
        files::now_secs()
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
