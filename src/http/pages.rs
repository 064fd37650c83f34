//! The HTML pages: the dashboard and one page per job. Plain
//! server-rendered HTML that works without JavaScript; `assets/app.js`
//! only refreshes the dashboard's counts and job list from `live.json`.
//! Every value is escaped; source URLs are shown with credentials redacted.

use std::fmt::Write as _;

use serde_json::Value;

use super::live::Summary;
use super::App;
use crate::model::{Job, State};
use crate::secret::{redact_url, redact_urls_in};

/// Jobs listed on the dashboard.
pub const RECENT: usize = 50;
/// Largest sidecar read for a job page.
const MAX_SIDECAR_BYTES: u64 = 256 * 1024;
const RUNNING: [&str; 4] = ["uploading", "submitting", "processing", "downloading"];

/// `text` safe inside HTML text and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a page needs to know about the visitor.
pub struct Visitor {
    /// Actions are configured (`token_file`).
    pub actions: bool,
    /// Logged in: the session's CSRF token.
    pub csrf: Option<String>,
}

fn page(app: &App, title: &str, visitor: &Visitor, body: &str) -> String {
    let base = &app.http.base_path;
    let account = match (&visitor.csrf, visitor.actions) {
        (Some(csrf), _) => format!(
            "<form method=post action=\"{base}/logout\" class=inline>\
             <input type=hidden name=csrf value=\"{}\"><button>Log out</button></form>",
            esc(csrf)
        ),
        (None, true) => format!("<a href=\"{base}/login\">Log in</a>"),
        (None, false) => String::new(),
    };
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{} · clipwatch</title>\
         <link rel=stylesheet href=\"{base}/assets/app.css\"></head>\
         <body data-base=\"{base}\"><header><a class=brand href=\"{base}/\">clipwatch</a>\
         <nav><a href=\"{base}/metrics\">metrics</a> <a href=\"{base}/healthz\">health</a> {account}</nav>\
         </header><main>{body}</main>\
         <script src=\"{base}/assets/app.js\" defer></script></body></html>",
        esc(title)
    )
}

pub fn login(app: &App, message: Option<&str>) -> String {
    let base = &app.http.base_path;
    let note = message
        .map(|m| format!("<p class=error>{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Log in</h1>{note}<form method=post action=\"{base}/login\" class=stack>\
         <label>Token (the contents of <code>token_file</code>)\
         <input type=password name=token autocomplete=current-password required></label>\
         <button>Log in</button></form>"
    );
    let visitor = Visitor {
        actions: true,
        csrf: None,
    };
    page(app, "Log in", &visitor, &body)
}

pub fn message(app: &App, visitor: &Visitor, title: &str, text: &str) -> String {
    let base = &app.http.base_path;
    let body = format!(
        "<h1>{}</h1><p class=error>{}</p><p><a href=\"{base}/\">Back to the dashboard</a></p>",
        esc(title),
        esc(text)
    );
    page(app, title, visitor, &body)
}

pub fn dashboard(app: &App, visitor: &Visitor, feeds: &[Value]) -> String {
    let base = &app.http.base_path;
    let mut body = String::new();
    let (version, recent) = app.live.recent(RECENT);
    let _ = write!(
        body,
        "<section id=live data-version={version}><h2>Jobs</h2><ul class=counts>"
    );
    for (state, n) in app.live.counts() {
        let _ = write!(
            body,
            "<li class=\"state-{state}\"><span class=n id=\"count-{state}\">{n}</span> {state}</li>"
        );
    }
    body.push_str("</ul></section>");
    if let Some(csrf) = &visitor.csrf {
        let _ = write!(
            body,
            "<section><h2>Submit a video</h2><form method=post action=\"{base}/act/submit\" class=row>\
             <input type=hidden name=csrf value=\"{}\">\
             <input type=url name=url placeholder=\"https://…\" required>\
             <input name=preset placeholder=\"preset (default)\">\
             <input name=name placeholder=\"title (optional)\">\
             <button>Submit</button></form></section>",
            esc(csrf)
        );
    }
    body.push_str("<section><h2>Running</h2>");
    let running = app.live.in_states(&RUNNING);
    if running.is_empty() {
        body.push_str("<p class=muted id=running-none>Nothing running.</p>");
    } else {
        body.push_str("<ul class=running>");
        for job in &running {
            let progress = app.pipeline.progress.get(&job.key).unwrap_or_default();
            let _ = write!(
                body,
                "<li><a href=\"{base}/jobs/{}\">{}</a> <span class=\"state state-{}\">{}</span> {}</li>",
                job.id,
                esc(&job.title),
                job.state,
                job.state,
                esc(&progress)
            );
        }
        body.push_str("</ul>");
    }
    body.push_str("</section>");
    feeds_section(&mut body, feeds);
    body.push_str("<section><h2>Recent jobs</h2><table class=jobs><thead><tr><th></th><th>Job</th><th>State</th><th>Updated</th></tr></thead><tbody id=jobs>");
    for job in &recent {
        job_row(&mut body, base, job);
    }
    body.push_str("</tbody></table></section>");
    page(app, "Dashboard", visitor, &body)
}

/// One row of the recent jobs (`app.js` renders the same markup).
fn job_row(out: &mut String, base: &str, job: &Summary) {
    let thumb = match &job.thumbnail {
        Some(name) => format!(
            "<img class=thumb alt=\"\" src=\"{base}/files/{}/{}\">",
            job.id,
            esc(&path_escape(name))
        ),
        None => String::new(),
    };
    let _ = write!(
        out,
        "<tr data-job={id}><td>{thumb}</td><td><a href=\"{base}/jobs/{id}\">{title}</a>\
         <div class=muted>#{id} {key}</div></td>\
         <td><span class=\"state state-{state}\">{state}</span></td><td class=muted>{updated}</td></tr>",
        id = job.id,
        title = esc(&job.title),
        key = esc(&job.key),
        state = job.state,
        updated = esc(&job.updated_at),
    );
}

fn feeds_section(body: &mut String, feeds: &[Value]) {
    if feeds.is_empty() {
        return;
    }
    body.push_str("<section><h2>Feeds</h2><table class=feeds><thead><tr><th>Feed</th><th>Last check</th><th>Last new video</th><th>Next check</th><th>Last error</th></tr></thead><tbody>");
    for feed in feeds {
        let field = |k: &str| esc(feed[k].as_str().unwrap_or("-"));
        let failing = feed["consecutive_failures"].as_u64().unwrap_or(0) > 0;
        let _ = write!(
            body,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if failing { "failing" } else { "" },
            field("name"),
            field("last_check"),
            field("last_new_entry"),
            field("next_check"),
            if failing {
                field("last_error")
            } else {
                "-".into()
            },
        );
    }
    body.push_str("</tbody></table></section>");
}

pub fn job(app: &App, visitor: &Visitor, job: &Job) -> String {
    let base = &app.http.base_path;
    let title = job.display_title();
    let mut body = format!(
        "<h1>{}</h1><p><span class=\"state state-{s}\">{s}</span> job #{} · {}</p>",
        esc(&title),
        job.id,
        esc(&job.key),
        s = job.state.name()
    );
    let url = redact_url(&job.source.url);
    let _ = write!(
        body,
        "<dl><dt>Source</dt><dd><a href=\"{u}\" rel=noreferrer>{u}</a></dd><dt>Origin</dt><dd>{}</dd>",
        esc(&job.source.origin),
        u = esc(&url)
    );
    if let Some(feed) = &job.source.feed {
        let _ = write!(body, "<dt>Feed</dt><dd>{}</dd>", esc(feed));
    }
    let _ = write!(body, "<dt>Preset</dt><dd>{}</dd>", esc(&job.preset));
    if let State::Failed { reason, .. } | State::Skipped { reason } = &job.state {
        let _ = write!(
            body,
            "<dt>Reason</dt><dd>{}</dd>",
            esc(&redact_urls_in(reason))
        );
    }
    if let (State::Done, Some(note)) = (&job.state, &job.note) {
        let _ = write!(body, "<dt>Note</dt><dd>{}</dd>", esc(note));
    }
    body.push_str("</dl>");
    actions(&mut body, base, visitor, job);
    clips(&mut body, app, job);
    body.push_str("<h2>History</h2><ol class=history>");
    let _ = write!(
        body,
        "<li>{} created ({})</li>",
        esc(&crate::util::rfc3339(job.created_at)),
        esc(&job.source.origin)
    );
    for step in &job.history {
        let note = step
            .note
            .as_deref()
            .map(|n| format!(": {}", esc(&redact_urls_in(n))))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<li>{} {} → {}{note}</li>",
            esc(&crate::util::rfc3339(step.at)),
            esc(&step.from.to_string()),
            esc(&step.to.to_string())
        );
    }
    body.push_str("</ol>");
    page(app, &title, visitor, &body)
}

fn actions(body: &mut String, base: &str, visitor: &Visitor, job: &Job) {
    let Some(csrf) = &visitor.csrf else { return };
    let form = |action: &str, label: &str| {
        format!(
            "<form method=post action=\"{base}/act/jobs/{}/{action}\" class=inline>\
             <input type=hidden name=csrf value=\"{}\"><button>{label}</button></form> ",
            job.id,
            esc(csrf)
        )
    };
    let mut buttons = String::new();
    if matches!(job.state, State::Failed { .. } | State::Skipped { .. }) {
        buttons.push_str(&form("retry", "Retry"));
    }
    if job.state.is_terminal() {
        buttons.push_str(&form("forget", "Forget"));
    }
    if !buttons.is_empty() {
        let _ = write!(body, "<p class=actions>{buttons}</p>");
    }
}

/// Every clip the job's sidecars describe, with its video.
fn clips(body: &mut String, app: &App, job: &Job) {
    let Some(folder) = &job.folder else { return };
    let dir = app.pipeline.config().output.dir.join(folder);
    let sidecars: Vec<Value> = job
        .files
        .iter()
        .filter(|f| f.ends_with(".json") && *f != "project.json" && !f.contains('/'))
        .filter_map(|f| read_sidecar(&dir.join(f)))
        .collect();
    if sidecars.is_empty() {
        return;
    }
    let base = &app.http.base_path;
    let file_url = |name: &Value| {
        name.as_str()
            .filter(|n| job.files.iter().any(|f| f == n))
            .map(|n| format!("{base}/files/{}/{}", job.id, esc(&path_escape(n))))
    };
    body.push_str("<h2>Clips</h2><div class=clips>");
    for clip in &sidecars {
        let thumb = file_url(&clip["files"]["thumbnail"]);
        let media = match (file_url(&clip["files"]["video"]), &thumb) {
            (Some(video), poster) => format!(
                "<video controls preload=metadata src=\"{video}\"{}></video>",
                poster
                    .as_ref()
                    .map(|p| format!(" poster=\"{p}\""))
                    .unwrap_or_default()
            ),
            (None, Some(thumb)) => format!("<img class=thumb alt=\"\" src=\"{thumb}\">"),
            (None, None) => String::new(),
        };
        let text = |k: &str| esc(clip[k].as_str().unwrap_or_default());
        let tags: Vec<String> = clip["hashtags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(esc).collect())
            .unwrap_or_default();
        let link = clip["source_link"]
            .as_str()
            .map(|l| {
                let l = esc(&redact_url(l));
                format!(" · <a href=\"{l}\" rel=noreferrer>at the source</a>")
            })
            .unwrap_or_default();
        let _ = write!(
            body,
            "<article class=clip>{media}<h3>{}</h3><p class=muted>#{} · score {} · {}–{}{link}</p>\
             <p>{}</p><p class=tags>{}</p></article>",
            text("title"),
            clip["rank"],
            esc(clip["score"].to_string().trim_matches('"')),
            text("begin"),
            text("end"),
            text("description"),
            tags.join(" ")
        );
    }
    body.push_str("</div>");
}

fn read_sidecar(path: &std::path::Path) -> Option<Value> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_SIDECAR_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// A recorded file name as one URL path segment (or several, for `a/b`).
pub fn path_escape(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
