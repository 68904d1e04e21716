//! Which route a request goes to: by `Host` and by path prefix.
//!
//! A route with a host matches only requests for that host (compared
//! without case, any port); among the routes that match, the longest path
//! prefix wins, and a route for the request's host beats one for every
//! host. A prefix matches at segment boundaries: `/api` and `/api/` both
//! match `/api` and `/api/x`, never `/apix`.

/// A path prefix without its trailing slash (`/` stays `/`).
fn trimmed(prefix: &str) -> &str {
    match prefix.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

/// Whether two prefixes match the same paths.
pub(crate) fn same_prefix(a: &str, b: &str) -> bool {
    trimmed(a) == trimmed(b)
}

/// Whether `prefix` matches `path`, at a segment boundary.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    let p = trimmed(prefix);
    if p == "/" {
        return true;
    }
    match path.strip_prefix(p) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'),
        None => false,
    }
}

/// The host of a `Host` header or URI authority: lowercase, without the
/// port.
pub fn host_of(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        authority
            .split_once(']')
            .map_or(authority, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    host.to_ascii_lowercase()
}

/// Routes by host and path prefix; `T` is what a route leads to.
#[derive(Debug)]
pub struct Router<T> {
    routes: Vec<(Option<String>, String, T)>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self { routes: Vec::new() }
    }
}

impl<T> Router<T> {
    /// Adds a route for `host` (lowercase, or `None` for every host) and
    /// `prefix`.
    pub fn add(&mut self, host: Option<String>, prefix: String, target: T) {
        self.routes.push((host, prefix, target));
    }

    /// The route of a request for `host` (as [`host_of`] gives it) and
    /// `path`.
    pub fn find(&self, host: &str, path: &str) -> Option<&T> {
        self.routes
            .iter()
            .filter(|(h, p, _)| h.as_deref().is_none_or(|h| h == host) && prefix_matches(p, path))
            .max_by_key(|(h, p, _)| (h.is_some(), trimmed(p).len()))
            .map(|(_, _, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_and_own_host_win() {
        let mut r = Router::default();
        r.add(None, "/".into(), "root");
        r.add(None, "/api/".into(), "api");
        r.add(None, "/api/v2".into(), "v2");
        r.add(Some("b.example".into()), "/".into(), "b");
        assert_eq!(r.find("a.example", "/"), Some(&"root"));
        assert_eq!(r.find("a.example", "/api"), Some(&"api"));
        assert_eq!(r.find("a.example", "/api/x?y=1"), Some(&"api"));
        assert_eq!(r.find("a.example", "/apix"), Some(&"root"));
        assert_eq!(r.find("a.example", "/api/v2/q"), Some(&"v2"));
        assert_eq!(r.find("a.example", "/api/v20"), Some(&"api"));
        assert_eq!(r.find("b.example", "/api/x"), Some(&"b"));
    }

    #[test]
    fn no_route_without_a_match() {
        let mut r = Router::default();
        r.add(Some("a.example".into()), "/x".into(), 1);
        assert_eq!(r.find("b.example", "/x"), None);
        assert_eq!(r.find("a.example", "/y"), None);
    }

    #[test]
    fn hosts_lose_port_and_case() {
        assert_eq!(host_of("A.Example:8080"), "a.example");
        assert_eq!(host_of("a.example"), "a.example");
        assert_eq!(host_of("[::1]:80"), "::1");
        assert!(same_prefix("/a/", "/a"));
        assert!(!same_prefix("/a", "/b"));
    }
}
