//! Uses every interface of `airssys:host`; host errors come back as text.

wit_bindgen::generate!({
    path: ["../../wit/host.wit", "wit/world.wit"],
    world: "airssys:host-probe/host-probe",
    generate_all,
});

use airssys::host::types::Error;
use airssys::host::{clocks, config, filesystem, http_client, key_value, logging, random};

struct Probe;

fn text(e: Error) -> String {
    match e {
        Error::Denied(m) => format!("denied: {m}"),
        Error::Limit(m) => format!("limit: {m}"),
        Error::NotFound(m) => format!("not-found: {m}"),
        Error::Failed(m) => format!("failed: {m}"),
    }
}

impl Guest for Probe {
    fn log_many(count: u32, message: String) -> (u32, Option<String>) {
        let mut accepted = 0;
        let mut first = None;
        for i in 0..count {
            let fields = [("i".to_string(), i.to_string())];
            match logging::log(logging::Level::Info, &message, &fields) {
                Ok(()) => accepted += 1,
                Err(e) => {
                    first.get_or_insert(text(e));
                }
            }
        }
        (accepted, first)
    }

    fn config_get(key: String) -> Option<String> {
        config::get(&key)
    }

    fn config_keys() -> Vec<String> {
        config::keys()
    }

    fn kv_set(namespace: String, key: String, value: String) -> Result<(), String> {
        key_value::set(&namespace, &key, value.as_bytes()).map_err(text)
    }

    fn kv_set_many(
        namespace: String,
        key: String,
        value: String,
        count: u32,
    ) -> Result<(), String> {
        for _ in 0..count {
            key_value::set(&namespace, &key, value.as_bytes()).map_err(text)?;
        }
        Ok(())
    }

    fn kv_get(namespace: String, key: String) -> Result<Option<String>, String> {
        key_value::get(&namespace, &key)
            .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
            .map_err(text)
    }

    fn kv_delete(namespace: String, key: String) -> Result<bool, String> {
        key_value::delete(&namespace, &key).map_err(text)
    }

    fn kv_keys(namespace: String) -> Result<Vec<String>, String> {
        key_value::list_keys(&namespace).map_err(text)
    }

    fn fs_read(path: String) -> Result<String, String> {
        filesystem::read(&path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(text)
    }

    fn fs_write(path: String, data: String) -> Result<(), String> {
        filesystem::write(&path, data.as_bytes()).map_err(text)
    }

    fn fs_list(path: String) -> Result<Vec<String>, String> {
        filesystem::read_dir(&path).map_err(text)
    }

    fn fs_size(path: String) -> Result<u64, String> {
        filesystem::metadata(&path).map(|m| m.size).map_err(text)
    }

    fn fs_delete(path: String) -> Result<(), String> {
        filesystem::delete(&path).map_err(text)
    }

    fn http_get(url: String) -> Result<(u16, String), String> {
        let response = http_client::send(&http_client::Request {
            method: "GET".into(),
            url,
            headers: vec![("x-plugin".into(), "host-probe".into())],
            body: None,
        })
        .map_err(text)?;
        Ok((
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        ))
    }

    fn now() -> Result<u64, String> {
        clocks::now().map_err(text)
    }

    fn random_len(len: u32) -> Result<u32, String> {
        random::bytes(len).map(|b| b.len() as u32).map_err(text)
    }
}

export!(Probe);
