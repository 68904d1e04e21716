//! Calls functions its host provides.

wit_bindgen::generate!({ path: "../wit/test.wit", world: "host-user" });

use airssys::test::host_fns;

struct HostUser;

impl Guest for HostUser {
    fn run(name: String) -> String {
        format!("plugin got: {}", host_fns::greet(&name))
    }

    fn read_secret() -> Result<String, String> {
        host_fns::secret()
    }
}

export!(HostUser);
