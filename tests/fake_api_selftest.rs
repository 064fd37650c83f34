//! Checks that the fake WayinVideo server in `tests/support` behaves as the
//! other integration tests assume, using plain reqwest.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{CostField, Drip, Envelope, FakeApi, FakeConfig, Misbehave, Target};

const PHASE: Duration = Duration::from_millis(20);

fn cfg() -> FakeConfig {
    FakeConfig {
        phase: PHASE,
        ..FakeConfig::default()
    }
}

/// The fake API started with `cfg`, and a client for it.
async fn started(cfg: FakeConfig) -> (FakeApi, Client) {
    let api = FakeApi::start(cfg).await;
    let client = Client::new(&api);
    (api, client)
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    fn new(api: &FakeApi) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: api.base_url.clone(),
            key: api.config().api_key.clone(),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("x-wayinvideo-api-version", "v2")
    }

    fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("x-wayinvideo-api-version", "v2")
            .json(&body)
    }

    async fn json(&self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn submit(&self, body: Value) -> String {
        let (status, v) = self.json(self.post("/clips", body)).await;
        assert_eq!(status, 200, "{v}");
        v["data"]["id"].as_str().expect("task id").to_string()
    }

    async fn results(&self, id: &str) -> Value {
        let (status, v) = self.json(self.get(&format!("/clips/results/{id}"))).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Polls until the task ends; returns every status seen and the last body.
    async fn wait_end(&self, id: &str) -> (Vec<String>, Value) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen: Vec<String> = Vec::new();
        loop {
            let v = self.results(id).await;
            let status = v["data"]["status"].as_str().unwrap().to_string();
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if status == "SUCCEEDED" || status == "FAILED" {
                return (seen, v);
            }
            assert!(Instant::now() < deadline, "task {id} never ended");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn links(v: &Value) -> Vec<Option<String>> {
    v["data"]["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["export_link"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn auth_and_version_failures() {
    let (api, c) = started(cfg()).await;
    let http = reqwest::Client::new();

    let resp = http
        .get(format!("{}/clips/results/proj_1", api.base_url))
        .header("x-wayinvideo-api-version", "v2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], 403);
    assert_eq!(v["error"], "Forbidden");
    assert_eq!(v["path"], "/open/v2/clips/results/proj_1");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));

    let resp = http
        .post(format!("{}/clips", api.base_url))
        .bearer_auth("wrong-key")
        .header("x-wayinvideo-api-version", "v2")
        .json(&json!({"video_url": "https://youtu.be/x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let resp = http
        .get(format!("{}/clips/results/proj_1", api.base_url))
        .bearer_auth(&c.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let reqs = api.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].authorization, None);
    assert_eq!(reqs[0].api_version.as_deref(), Some("v2"));
    assert_eq!(reqs[1].authorization.as_deref(), Some("Bearer wrong-key"));
    assert_eq!(
        reqs[1].body.as_ref().unwrap()["video_url"],
        "https://youtu.be/x"
    );
    assert_eq!(reqs[2].api_version, None);
    assert!(api.submissions().is_empty());
}

#[tokio::test]
async fn seed_shape_with_string_numbers() {
    let (api, c) = started(cfg()).await;
    let (status, v) = c
        .json(c.post(
            "/clips",
            json!({"video_url": "https://youtu.be/abc", "project_name": "my project"}),
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["code"], "0");
    assert_eq!(v["message"], "success");
    assert_eq!(
        v["data"],
        json!({"id": "proj_1", "name": "my project", "status": "CREATED"})
    );

    let (seen, v) = c.wait_end("proj_1").await;
    // Statuses only move forward (a slow poll may skip one).
    let order = ["CREATED", "QUEUED", "ONGOING", "SUCCEEDED"];
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).expect("known status"))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("SUCCEEDED"));
    let d = &v["data"];
    assert_eq!(v["code"], "0");
    assert_eq!(d["name"], "my project");
    assert_eq!(d["api_units_usage"], "30");
    let expire_at = d["expire_at"].as_i64().unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!((expire_at - now_ms - 3 * 86_400_000).abs() < 60_000);
    let clips = d["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 3);
    assert_eq!(clips[0]["idx"], "0");
    assert_eq!(clips[0]["score"], "90");
    assert_eq!(clips[1]["score"], "75");
    assert_eq!(clips[2]["score"], "40");
    assert_eq!(clips[0]["begin_ms"], "15000");
    assert_eq!(clips[0]["title"], "Clip 1 title");
    assert_eq!(clips[0]["tags"], json!(["insight", "analysis"]));
    assert!(clips[0]["desc"].is_string());
    assert!(clips.iter().all(|c| c.get("export_link").is_none()));

    // Thumbnails are JPEG-looking and free of auth.
    let thumb = reqwest::get(clips[1]["thumbnail"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let bytes = thumb.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF]);
    assert_eq!(bytes.to_vec(), api.thumb_bytes("proj_1", 1));

    assert_eq!(api.submissions_for("https://youtu.be/abc"), 1);
    assert_eq!(api.submissions_for("https://youtu.be/other"), 0);
    assert_eq!(api.count("POST", "/open/v2/clips"), 1);
    assert!(api.count("GET", "/open/v2/clips/results/proj_1") >= 4);
    assert_eq!(api.count("GET", "/files/thumb/"), 1);

    // Unknown task and missing video_url are API errors with a non-zero code.
    let (status, v) = c.json(c.get("/clips/results/proj_99")).await;
    assert_eq!(status, 404);
    assert_ne!(v["code"], "0");
    assert!(v.get("data").is_none());
    let (status, v) = c.json(c.post("/clips", json!({"project_name": "x"}))).await;
    assert_eq!(status, 400);
    assert_ne!(v["code"], "0");
    assert!(v["message"].as_str().unwrap().contains("video_url"));
}

#[tokio::test]
async fn data_only_numbers_cost_usage_and_api_prefix() {
    let api = FakeApi::start(FakeConfig {
        prefix: "/api/v2".into(),
        numbers_as_strings: false,
        envelope: Envelope::DataOnly,
        cost_field: CostField::CostUsage,
        clips: 4,
        clip_titles: vec!["First!".into()],
        partial_clips_while_ongoing: true,
        // Long enough not to miss ONGOING on a busy machine.
        phase: Duration::from_millis(150),
        ..cfg()
    })
    .await;
    assert!(api.base_url.ends_with("/api/v2"));
    assert_eq!(api.origin.len() + "/api/v2".len(), api.base_url.len());
    let c = Client::new(&api);
    let (status, v) = c
        .json(c.post("/clips", json!({"video_url": "https://vimeo.com/1"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"data": {"id": "proj_1", "name": "", "status": "CREATED"}})
    );

    // ONGOING lists the first clips already.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = c.results("proj_1").await;
        if v["data"]["status"] == "ONGOING" {
            assert_eq!(v["data"]["clips"].as_array().unwrap().len(), 2);
            assert!(v["data"].get("cost_usage").is_none());
            break;
        }
        assert_ne!(v["data"]["status"], "SUCCEEDED", "missed ONGOING");
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let (_, v) = c.wait_end("proj_1").await;
    assert!(v.get("code").is_none());
    let d = &v["data"];
    assert_eq!(d["cost_usage"], 40);
    assert!(d.get("api_units_usage").is_none());
    let clips = d["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 4);
    assert_eq!(clips[0]["idx"], 0);
    assert_eq!(clips[0]["score"], 90);
    assert_eq!(clips[3]["score"], 35);
    assert_eq!(clips[0]["begin_ms"], 15000);
    assert!(clips[0]["end_ms"].as_u64().unwrap() > 15000);
    assert_eq!(clips[0]["title"], "First!");
    assert_eq!(clips[1]["title"], "Clip 2 title");

    // The other prefix is not served.
    let (status, _) = c
        .json(
            c.http
                .get(format!("{}/open/v2/clips/results/proj_1", api.origin))
                .bearer_auth(&c.key)
                .header("x-wayinvideo-api-version", "v2"),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let (api, c) = started(FakeConfig {
        rate_limit: Some((3, Duration::from_secs(1))),
        ..cfg()
    })
    .await;
    let id = c.submit(json!({"video_url": "https://youtu.be/a"})).await;
    c.results(&id).await;
    c.results(&id).await;
    let resp = c.get(&format!("/clips/results/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], 429);
    assert_eq!(v["error"], "Too Many Requests");
    assert!(v["timestamp"].is_string());
    assert_eq!(api.count_429(), 1);

    // Files are a CDN: no budget.
    let thumb = format!("{}/files/thumb/{id}/0.jpg", api.origin);
    for _ in 0..5 {
        assert_eq!(reqwest::get(&thumb).await.unwrap().status(), 200);
    }

    tokio::time::sleep(Duration::from_millis(1050)).await;
    c.results(&id).await;
    assert_eq!(api.count_429(), 1);
}

#[tokio::test]
async fn sixth_running_project_is_refused() {
    let (api, c) = started(FakeConfig {
        phase: Duration::from_millis(200),
        ..cfg()
    })
    .await;
    for i in 0..5 {
        c.submit(json!({"video_url": format!("https://youtu.be/{i}")}))
            .await;
    }
    let resp = c
        .post("/clips", json!({"video_url": "https://youtu.be/6"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "Too Many Requests");
    assert_eq!(api.submissions().len(), 5);
    assert_eq!(api.submissions_for("https://youtu.be/6"), 0);

    tokio::time::sleep(Duration::from_millis(650)).await;
    let id = c.submit(json!({"video_url": "https://youtu.be/6"})).await;
    assert_eq!(id, "proj_6");
    assert_eq!(api.submissions_for("https://youtu.be/6"), 1);
    assert_eq!(api.task_ids().len(), 6);
}

#[tokio::test]
async fn export_links_renew_expire_and_serve_ranges() {
    let (api, c) = started(FakeConfig {
        link_ttl: Duration::from_millis(800),
        clip_bytes: 10_000,
        ..cfg()
    })
    .await;
    let id = c
        .submit(json!({"video_url": "https://youtu.be/e", "enable_export": true}))
        .await;
    let (_, first) = c.wait_end(&id).await;
    let second = c.results(&id).await;
    let l1 = links(&first);
    let l2 = links(&second);
    assert_eq!(l1.len(), 3);
    let a = l1[0].clone().unwrap();
    let b = l2[0].clone().unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with(&format!("{}/files/export/{id}/0/", api.origin)));
    assert!(a.contains(".mp4?sig="));
    let gen_a: u64 = a
        .rsplit('/')
        .next()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let gen_b: u64 = b
        .rsplit('/')
        .next()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(gen_b > gen_a);

    let expected = api.clip_bytes(&id, 0);
    assert_eq!(expected.len(), 10_000);
    assert_eq!(&expected[..12], b"\0\0\0\x20ftypisom");
    assert_ne!(expected, api.clip_bytes(&id, 1));
    for link in [&a, &b] {
        let resp = reqwest::get(link).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "video/mp4");
        assert_eq!(resp.headers()["content-length"], "10000");
        assert_eq!(resp.bytes().await.unwrap().to_vec(), expected);
    }

    // Range: bytes=N-
    let resp = reqwest::Client::new()
        .get(&b)
        .header("range", "bytes=4000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 4000-9999/10000");
    assert_eq!(resp.headers()["content-length"], "6000");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), expected[4000..]);
    let resp = reqwest::Client::new()
        .get(&b)
        .header("range", "bytes=10000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);

    // A tampered signature is refused.
    // (Change the last character to one it is not, or the test flakes.)
    let last = if b.ends_with('0') { "1" } else { "0" };
    let tampered = format!("{}{last}", &b[..b.len() - 1]);
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);

    // Links expire after link_ttl; a fresh one works.
    tokio::time::sleep(Duration::from_millis(850)).await;
    let resp = reqwest::get(&b).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("expired"));
    let fresh = links(&c.results(&id).await)[0].clone().unwrap();
    assert_eq!(reqwest::get(&fresh).await.unwrap().status(), 200);

    // Downloads are recorded without auth and do not touch the API budget.
    let downloads = api.requests();
    let files: Vec<_> = downloads
        .iter()
        .filter(|r| r.path.starts_with("/files/export/"))
        .collect();
    assert_eq!(files.len(), 7);
    assert!(files.iter().all(|r| r.authorization.is_none()));
    assert!(files[0].query.as_deref().unwrap().starts_with("sig="));
}

#[tokio::test]
async fn export_links_refused_until_refresh() {
    let (api, c) = started(cfg()).await;
    let id = c
        .submit(json!({"video_url": "https://youtu.be/r", "enable_export": true}))
        .await;
    api.misbehave(Misbehave {
        export_links_refused_until_refresh: true,
        ..Misbehave::default()
    });
    let (_, v) = c.wait_end(&id).await;
    let old = links(&v)[0].clone().unwrap();
    assert_eq!(reqwest::get(&old).await.unwrap().status(), 403);
    assert_eq!(reqwest::get(&old).await.unwrap().status(), 403);
    // A link issued after the refusal works; the refused one stays refused.
    let new = links(&c.results(&id).await)[0].clone().unwrap();
    assert_eq!(reqwest::get(&new).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(&old).await.unwrap().status(), 403);
    let newer = links(&c.results(&id).await)[0].clone().unwrap();
    assert_eq!(reqwest::get(&newer).await.unwrap().status(), 200);
}

#[tokio::test]
async fn missing_export_links_after_success() {
    let api = FakeApi::start(cfg()).await;
    api.misbehave(Misbehave {
        missing_export_links_polls: 2,
        ..Misbehave::default()
    });
    let c = Client::new(&api);
    let id = c
        .submit(json!({"video_url": "https://youtu.be/m", "enable_export": true}))
        .await;
    let (_, v) = c.wait_end(&id).await;
    let l = links(&v);
    assert!(l[0].is_some() && l[1].is_some() && l[2].is_none());
    assert!(links(&c.results(&id).await)[2].is_none());
    assert!(links(&c.results(&id).await).iter().all(Option::is_some));
}

#[tokio::test]
async fn upload_flow_records_hash() {
    let (api, c) = started(FakeConfig {
        upload_url_ttl: Duration::from_millis(800),
        ..cfg()
    })
    .await;
    let (status, v) = c
        .json(c.post("/upload/single-file", json!({"name": "talk.mp4"})))
        .await;
    assert_eq!(status, 200);
    let url = v["data"]["upload_url"].as_str().unwrap().to_string();
    let identity = v["data"]["identity"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/upload-put/", api.origin)));
    assert!(url.contains("X-Amz-Signature="));
    assert!(identity.starts_with("upload://"));

    // Submitting before the file is there is an API error.
    let (status, v) = c
        .json(c.post("/clips", json!({"video_url": identity})))
        .await;
    assert_eq!(status, 400);
    assert_ne!(v["code"], "0");

    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let http = reqwest::Client::new();
    let resp = http
        .put(&url)
        .bearer_auth(&c.key)
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let bad_sig = url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    let resp = http
        .put(&bad_sig)
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let unknown = format!("{}/upload-put/nope?X-Amz-Signature=x", api.origin);
    let resp = http
        .put(&unknown)
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(api.uploads().is_empty());

    let resp = http
        .put(&url)
        .header("content-type", "video/mp4")
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let uploads = api.uploads();
    assert_eq!(uploads.len(), 1);
    let (ident, sha, len, ctype) = &uploads[0];
    assert_eq!(ident, &identity);
    assert_eq!(sha, &hex(&Sha256::digest(&content)));
    assert_eq!(*len, 200_000);
    assert_eq!(ctype.as_deref(), Some("video/mp4"));

    c.submit(json!({"video_url": identity})).await;
    assert_eq!(api.submissions_for(&identity), 1);

    // Upload URLs expire.
    tokio::time::sleep(Duration::from_millis(850)).await;
    let resp = http.put(&url).body(content).send().await.unwrap();
    assert_eq!(resp.status(), 403);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn misbehave_reject_key_fail_and_server_errors() {
    let (api, c) = started(cfg()).await;

    api.misbehave(Misbehave {
        reject_key: true,
        ..Misbehave::default()
    });
    let (status, v) = c
        .json(c.post("/clips", json!({"video_url": "https://youtu.be/k"})))
        .await;
    assert_eq!(status, 403);
    assert_eq!(v["error"], "Forbidden");

    api.misbehave(Misbehave {
        fail_tasks_with: Some("video is private".into()),
        server_errors: 2,
        ..Misbehave::default()
    });
    for _ in 0..2 {
        let resp = c.get("/clips/results/proj_1").send().await.unwrap();
        assert_eq!(resp.status(), 500);
        let text = resp.text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    }
    let id = c.submit(json!({"video_url": "https://youtu.be/k"})).await;
    let (_, v) = c.wait_end(&id).await;
    assert_eq!(v["data"]["status"], "FAILED");
    assert_eq!(v["data"]["error_message"], "video is private");
    assert_eq!(v["data"]["api_units_usage"], "0");
    assert_eq!(v["data"]["clips"], json!([]));

    // Only tasks submitted while the mode was on fail.
    api.misbehave(Misbehave::default());
    let id = c.submit(json!({"video_url": "https://youtu.be/k2"})).await;
    let (_, v) = c.wait_end(&id).await;
    assert_eq!(v["data"]["status"], "SUCCEEDED");
    let statuses: Vec<u16> = api.requests().iter().map(|r| r.status).collect();
    assert_eq!(&statuses[..3], &[403, 500, 500]);
}

#[tokio::test]
async fn misbehave_invalid_submit_malformed_and_delay() {
    let (api, c) = started(cfg()).await;
    api.misbehave(Misbehave {
        invalid_submit: Some("unsupported video source".into()),
        ..Misbehave::default()
    });
    let (status, v) = c
        .json(c.post("/clips", json!({"video_url": "https://example.com/v"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"code": "40001", "message": "unsupported video source"})
    );
    assert!(api.submissions().is_empty());

    api.misbehave(Misbehave {
        malformed_results: 1,
        response_delay: Some(Duration::from_millis(150)),
        ..Misbehave::default()
    });
    let id = c
        .submit(json!({"video_url": "https://example.com/v"}))
        .await;
    let started = Instant::now();
    let resp = c.get(&format!("/clips/results/{id}")).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<Value>().await.is_err());
    api.misbehave(Misbehave::default());
    c.results(&id).await;
}

/// A fake API with one finished task of `video` with exports: the API,
/// a client, the task id and its first clip's export link.
async fn finished_with_export(video: &str) -> (FakeApi, Client, String, String) {
    let (api, c) = started(cfg()).await;
    let id = c
        .submit(json!({"video_url": video, "enable_export": true}))
        .await;
    let (_, v) = c.wait_end(&id).await;
    let link = links(&v)[0].clone().unwrap();
    (api, c, id, link)
}

#[tokio::test]
async fn misbehave_html_and_truncated_downloads() {
    let (api, _, id, link) = finished_with_export("https://youtu.be/h").await;

    api.misbehave(Misbehave {
        html_instead_of_mp4: true,
        ..Misbehave::default()
    });
    let resp = reqwest::get(&link).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.text().await.unwrap().starts_with("<!DOCTYPE html>"));

    api.misbehave(Misbehave {
        truncate_downloads: true,
        ..Misbehave::default()
    });
    let mut resp = reqwest::get(&link).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(64 * 1024));
    let mut got = Vec::new();
    let mut failed = false;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "a truncated download must end in an error");
    assert_eq!(got, api.clip_bytes(&id, 0)[..32 * 1024]);

    // A resumed download from where it stopped gets the rest once healed.
    api.misbehave(Misbehave::default());
    let resp = reqwest::Client::new()
        .get(&link)
        .header("range", format!("bytes={}-", got.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    got.extend_from_slice(&resp.bytes().await.unwrap());
    assert_eq!(got, api.clip_bytes(&id, 0));
}

/// Sends one raw HTTP/1.1 request and returns every byte that came back
/// before the server closed the connection (or `timeout` passed).
async fn raw_exchange(api: &FakeApi, request: &str, timeout: Duration) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = api.origin.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(timeout, stream.read_to_end(&mut got)).await;
    got
}

#[tokio::test]
async fn misbehave_resets_close_the_connection_without_an_answer() {
    let (api, c) = started(cfg()).await;
    api.misbehave(Misbehave {
        reset_api_calls: 2,
        target: Target::Submit,
        ..Misbehave::default()
    });
    // Results calls are not targeted.
    let (status, _) = c.json(c.get("/clips/results/proj_9")).await;
    assert_eq!(status, 404);

    let err = c
        .post("/clips", json!({"video_url": "https://youtu.be/r"}))
        .send()
        .await
        .expect_err("a reset is not a reply");
    assert!(err.status().is_none(), "{err}");
    let body = r#"{"video_url":"https://youtu.be/r"}"#;
    let request = format!(
        "POST /open/v2/clips HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         x-wayinvideo-api-version: v2\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        c.key,
        body.len()
    );
    let got = raw_exchange(&api, &request, Duration::from_secs(5)).await;
    assert!(
        got.is_empty(),
        "not a byte of a response: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        api.submissions().is_empty(),
        "a reset call is not processed"
    );
    let resets = api.faults("reset");
    assert_eq!(resets.len(), 2);
    assert!(resets.iter().all(|r| r.status == 0 && r.method == "POST"));

    // The count is spent: the next submit works.
    c.submit(json!({"video_url": "https://youtu.be/r"})).await;
    assert_eq!(api.submissions_for("https://youtu.be/r"), 1);
}

#[tokio::test]
async fn misbehave_hang_processes_the_call_and_never_answers() {
    let (api, c) = started(cfg()).await;
    api.misbehave(Misbehave {
        hang_api_calls: 1,
        target: Target::Submit,
        ..Misbehave::default()
    });
    let started = Instant::now();
    let err = c
        .post("/clips", json!({"video_url": "https://youtu.be/h"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("a hung call never answers");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        api.submissions_for("https://youtu.be/h"),
        1,
        "the hung submit created its task"
    );
    let hangs = api.faults("hang");
    assert_eq!(hangs.len(), 1);
    assert_eq!(hangs[0].status, 0);
    // Only one call hangs.
    c.submit(json!({"video_url": "https://youtu.be/h"})).await;
    assert_eq!(api.task_ids(), ["proj_1", "proj_2"]);
}

#[tokio::test]
async fn misbehave_drip_trickles_api_replies_and_downloads() {
    let (api, c, id, link) = finished_with_export("https://youtu.be/d").await;

    let drip = Drip {
        bytes: 64,
        every: Duration::from_millis(20),
    };
    api.misbehave(Misbehave {
        drip_api: Some(drip),
        target: Target::Results,
        ..Misbehave::default()
    });
    // A client with a short overall timeout gives up on a dripped reply.
    let err = c
        .get(&format!("/clips/results/{id}"))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .expect_err("the reply takes longer than 200 ms");
    assert!(err.is_timeout(), "{err}");
    // A patient one gets it whole, in small pieces.
    let started = Instant::now();
    let mut resp = c.get(&format!("/clips/results/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = Vec::new();
    let mut pieces = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        assert!(chunk.len() <= 64);
        body.extend_from_slice(&chunk);
        pieces += 1;
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["data"]["status"], "SUCCEEDED");
    assert!(pieces >= body.len() / 64, "{pieces} pieces");
    assert!(started.elapsed() >= Duration::from_millis(20) * pieces as u32);
    assert_eq!(api.faults("drip").len(), 2);

    api.misbehave(Misbehave {
        drip_downloads: Some(Drip {
            bytes: 8 * 1024,
            every: Duration::from_millis(10),
        }),
        ..Misbehave::default()
    });
    let started = Instant::now();
    let bytes = reqwest::get(&link).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes, api.clip_bytes(&id, 0));
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "8 pieces, 10 ms apart"
    );
    assert_eq!(api.faults("drip").len(), 3);
}

#[tokio::test]
async fn misbehave_malformed_submits_and_huge_replies() {
    let (api, c) = started(cfg()).await;
    api.misbehave(Misbehave {
        malformed_submits: 1,
        ..Misbehave::default()
    });
    let resp = c
        .post("/clips", json!({"video_url": "https://youtu.be/m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<Value>().await.is_err());
    assert_eq!(
        api.submissions_for("https://youtu.be/m"),
        1,
        "the task exists though its id was lost"
    );
    assert_eq!(api.faults("malformed").len(), 1);

    const SIZE: u64 = 8 * 1024 * 1024;
    api.misbehave(Misbehave {
        huge_replies: 1,
        huge_bytes: SIZE,
        target: Target::Results,
        ..Misbehave::default()
    });
    let mut resp = c.get("/clips/results/proj_1").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), None, "no Content-Length to go by");
    let mut len = 0u64;
    let mut head = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        if head.len() < 32 {
            head.extend_from_slice(&chunk[..chunk.len().min(32)]);
        }
        len += chunk.len() as u64;
    }
    assert_eq!(len, SIZE);
    assert!(head.starts_with(br#"{"code":"0""#));
    assert_eq!(api.faults("huge").len(), 1);
    // Healed: the next results call is the real one.
    let v = c.results("proj_1").await;
    assert_eq!(v["data"]["id"], "proj_1");
}

#[tokio::test]
async fn misbehave_refused_uploads_then_accepted() {
    let (api, c) = started(cfg()).await;
    api.misbehave(Misbehave {
        refuse_uploads: 1,
        ..Misbehave::default()
    });
    let http = reqwest::Client::new();
    let content = vec![7u8; 100_000];
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let (_, v) = c
            .json(c.post("/upload/single-file", json!({"name": "a.mp4"})))
            .await;
        let url = v["data"]["upload_url"].as_str().unwrap().to_string();
        let resp = http.put(&url).body(content.clone()).send().await.unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 403 {
            let text = resp.text().await.unwrap();
            assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
        }
    }
    assert_eq!(statuses, [403, 200]);
    assert_eq!(api.uploads().len(), 1, "the refused PUT stored nothing");
    assert_eq!(api.faults("refused-upload").len(), 1);
}

#[test]
fn start_blocking_serves_from_its_own_thread() {
    let api = FakeApi::start_blocking(cfg());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = Client::new(&api);
        let id = c.submit(json!({"video_url": "https://youtu.be/b"})).await;
        let (_, v) = c.wait_end(&id).await;
        assert_eq!(v["data"]["status"], "SUCCEEDED");
    });
    assert_eq!(api.submissions_for("https://youtu.be/b"), 1);
    let origin = api.origin.clone();
    drop(api);
    // Once dropped, the port no longer answers.
    let addr = origin.trim_start_matches("http://");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn reframe_options_are_refused_as_the_april_api_refuses_them() {
    let api = FakeApi::start(cfg()).await;
    let c = Client::new(&api);
    let video = "https://youtu.be/r";
    let refused = [
        json!({"video_url": video, "enable_ai_reframe": true}),
        json!({"video_url": video, "enable_ai_reframe": true, "ratio": "RATIO_ORIGINAL"}),
        json!({"video_url": video, "enable_ai_reframe": true, "ratio": "RATIO_1_1", "reframe_layout": "PiP"}),
        json!({"video_url": video, "enable_ai_reframe": true, "ratio": "RATIO_16_9", "reframe_layout": "screen first"}),
        json!({"video_url": video, "enable_express_mode": "true"}),
        json!({"video_url": video, "enable_more_results": 1}),
    ];
    for body in refused {
        let (status, v) = c.json(c.post("/clips", body.clone())).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(
            v["message"].as_str().is_some() && v["trace_id"].as_str().is_some(),
            "{v}"
        );
    }
    assert!(
        api.submissions().is_empty(),
        "a refused submit creates no task"
    );
    let accepted = [
        json!({"video_url": video, "enable_ai_reframe": true, "ratio": "RATIO_4_5", "reframe_layout": "Gameplay A"}),
        json!({"video_url": video, "enable_ai_reframe": true, "ratio": "RATIO_9_16", "reframe_layout": ""}),
        json!({"video_url": video, "enable_ai_reframe": false, "reframe_layout": "anything"}),
        json!({"video_url": video, "enable_express_mode": true, "enable_more_results": false}),
    ];
    for body in accepted {
        c.submit(body).await;
    }
    assert_eq!(api.submissions_for(video), 4);
}

#[tokio::test]
async fn find_moments_has_each_prefix_shape_and_a_no_match_knob() {
    // /open/v2: query optional, the task named `project_id`.
    let (api, c) = started(cfg()).await;
    let body = json!({"video_url": "https://youtu.be/x", "query": "demos"});
    let (status, v) = c.json(c.post("/clips/find-moments", body)).await;
    assert_eq!(status, 200, "{v}");
    let id = v["data"]["project_id"]
        .as_str()
        .expect("project_id")
        .to_string();
    let (status, _) = c.json(c.get(&format!("/clips/results/{id}"))).await;
    assert_eq!(status, 404, "a moments task is not a clipping one");
    tokio::time::sleep(PHASE * 4).await;
    let (status, v) = c
        .json(c.get(&format!("/clips/find-moments/results/{id}")))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["project_id"], id.as_str());
    assert_eq!(v["data"]["status"], "SUCCEEDED");
    assert_eq!(v["data"]["clips"].as_array().unwrap().len(), 3);
    let no_query = json!({"video_url": "https://youtu.be/y"});
    let (status, _) = c.json(c.post("/clips/find-moments", no_query)).await;
    assert_eq!(status, 200, "/open/v2 takes no query");
    assert_eq!(api.moments_submissions().len(), 2);

    // /api/v2: query required, no target_duration, the task named `id`;
    // `moments_found: Some(0)` finds nothing, for good.
    let (api, c) = started(FakeConfig {
        prefix: "/api/v2".into(),
        moments_found: Some(0),
        ..cfg()
    })
    .await;
    let (status, _) = c
        .json(c.post(
            "/clips/find-moments",
            json!({"video_url": "https://youtu.be/x"}),
        ))
        .await;
    assert_eq!(status, 400, "/api/v2 needs a query");
    let with_duration = json!({"video_url": "u", "query": "q", "target_duration": "DURATION_0_90"});
    let (status, _) = c.json(c.post("/clips/find-moments", with_duration)).await;
    assert_eq!(status, 400, "target_duration is AI Clipping's");
    let (status, v) = c
        .json(c.post(
            "/clips/find-moments",
            json!({"video_url": "u", "query": "q"}),
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    let id = v["data"]["id"].as_str().expect("id").to_string();
    tokio::time::sleep(PHASE * 4).await;
    for _ in 0..3 {
        let (_, v) = c
            .json(c.get(&format!("/clips/find-moments/results/{id}")))
            .await;
        assert_eq!(v["data"]["status"], "SUCCEEDED");
        assert_eq!(v["data"]["clips"], json!([]));
        assert!(v["data"]["api_units_usage"].is_string(), "charged: {v}");
    }
    assert_eq!(api.moments_submissions().len(), 1);
}
