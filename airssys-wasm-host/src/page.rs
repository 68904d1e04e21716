//! The status page (`GET /`) and its data (`GET /status.json`): one small
//! server-rendered page whose few lines of script refresh it every second.

use serde::Serialize;

use crate::api::DeploymentView;
use crate::metrics::Denial;
use crate::service::Host;

/// What the page shows.
#[derive(Serialize)]
pub(crate) struct Status {
    deployments: Vec<DeploymentView>,
    denials: Vec<Denial>,
    audit_queued: u64,
    audit_written: u64,
}

pub(crate) fn status(host: &Host) -> Status {
    let audit = host.audit_stats();
    Status {
        deployments: host.list(),
        denials: host.metrics.latest_denials(),
        audit_queued: audit.queued,
        audit_written: audit.written,
    }
}

/// Text made safe inside HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn rows(s: &Status) -> (String, String) {
    let mut deployments = String::new();
    for d in &s.deployments {
        let errors: u64 = d.errors.values().sum();
        deployments.push_str(&format!(
            "<tr data-name=\"{n}\"><td>{n}</td><td>{v}</td><td>{c}</td><td>{st}</td><td>{h}</td><td class=\"calls\">{calls}</td><td>{errors}</td><td>{p50}</td><td>{p99}</td><td>{i}</td></tr>",
            n = esc(&d.name),
            v = esc(&d.version),
            c = esc(d.canary.as_deref().unwrap_or("")),
            st = esc(&d.state),
            h = esc(&d.health),
            calls = d.calls,
            p50 = ms(d.p50_us),
            p99 = ms(d.p99_us),
            i = d.instances,
        ));
    }
    let mut denials = String::new();
    for d in s.denials.iter().rev() {
        denials.push_str(&format!(
            "<li>{} <b>{}</b> {}</li>",
            esc(&d.time),
            esc(&d.component),
            esc(&d.request)
        ));
    }
    (deployments, denials)
}

/// The page, rendered with the host's state of now.
pub(crate) fn html(host: &Host) -> String {
    let s = status(host);
    let (deployments, denials) = rows(&s);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>airssys-wasm host</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style>
</head><body>
<h1>airssys-wasm host</h1>
<table id="deployments"><thead><tr><th>deployment</th><th>version</th><th>canary</th><th>state</th><th>health</th><th>calls</th><th>errors</th><th>p50</th><th>p99</th><th>instances</th></tr></thead>
<tbody>{deployments}</tbody></table>
<p id="audit">audit: {written} records written, {queued} queued</p>
<h2>Latest denials</h2><ul id="denials">{denials}</ul>
<script>
const esc = t => String(t).replace(/[<>&"']/g, c => ({{'<':'&lt;','>':'&gt;','&':'&amp;','"':'&quot;',"'":'&#39;'}})[c]);
const ms = us => (us / 1000).toFixed(2) + ' ms';
async function refresh() {{
  const s = await (await fetch('/status.json')).json();
  document.querySelector('#deployments tbody').innerHTML = s.deployments.map(d =>
    `<tr data-name="${{esc(d.name)}}"><td>${{esc(d.name)}}</td><td>${{esc(d.version)}}</td><td>${{esc(d.canary || '')}}</td><td>${{esc(d.state)}}</td><td>${{esc(d.health)}}</td><td class="calls">${{d.calls}}</td><td>${{Object.values(d.errors).reduce((a, b) => a + b, 0)}}</td><td>${{ms(d.p50_us)}}</td><td>${{ms(d.p99_us)}}</td><td>${{d.instances}}</td></tr>`).join('');
  document.getElementById('audit').textContent = `audit: ${{s.audit_written}} records written, ${{s.audit_queued}} queued`;
  document.getElementById('denials').innerHTML = s.denials.reverse().map(d => `<li>${{esc(d.time)}} <b>${{esc(d.component)}}</b> ${{esc(d.request)}}</li>`).join('');
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
}}
setInterval(() => refresh().catch(() => {{}}), 1000);
refresh().catch(() => {{}});
</script>
</body></html>
"#,
        written = s.audit_written,
        queued = s.audit_queued,
    )
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(esc("<b a=\"1\">'&"), "&lt;b a=&quot;1&quot;&gt;&#39;&amp;");
    }
}
