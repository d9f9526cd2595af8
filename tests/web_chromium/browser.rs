//! Chromium over the DevTools protocol (a pipe on file descriptors 3 and 4): pages, real input
//! events, DOM waits and screenshots.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{CALL, STEP};

#[derive(Clone)]
pub(crate) struct Page {
    name: &'static str,
    session: String,
    /// For a frame of the page: its isolated world's execution context, and the selector of
    /// its `<iframe>` in the page (clicks are made in the page, at the frame's offset).
    frame: Option<(i64, String)>,
}

pub(crate) struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// Every page opened: (name, session), for screenshots on failure.
    pages: Vec<(&'static str, String)>,
    /// Uncaught exceptions and console errors, by page.
    errors: Vec<String>,
    dir: PathBuf,
    log_path: PathBuf,
    pub(crate) server_log: Option<Arc<Mutex<Vec<String>>>>,
    shots: Option<PathBuf>,
}

impl Browser {
    pub(crate) fn launch(chromium: &Path, root: &Path) -> Browser {
        let dir = root.join("browser");
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).unwrap();
        let log_path = dir.join("chromium.log");
        let log = File::create(&log_path).unwrap();
        let flags = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--disable-crash-reporter".into(),
            "--disable-dev-shm-usage".into(),
            // Both tabs keep their timers running at full speed while the other is in front.
            "--disable-background-timer-throttling".into(),
            "--disable-renderer-backgrounding".into(),
            "--disable-backgrounding-occluded-windows".into(),
            "--no-proxy-server".into(),
            "--password-store=basic".into(),
            "--lang=en-US".into(),
            "--window-size=1280,900".into(),
            "--remote-debugging-pipe".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        // fd 3 is where Chromium reads commands and fd 4 where it writes answers: the shell maps
        // our stdin/stdout pipes there before it becomes Chromium.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 0</dev/null 1>&2")
            .arg(chromium)
            .args(flags)
            .env("HOME", &dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
        let commands = child.stdin.take().unwrap();
        let mut answers = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            loop {
                let n = match answers.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    if let Ok(value) = serde_json::from_slice::<Value>(&message[..end]) {
                        if tx.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let shots = std::env::var_os("PERSONABOT_BROWSER_SCREENSHOTS")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(shots) = &shots {
            std::fs::create_dir_all(shots).expect("PERSONABOT_BROWSER_SCREENSHOTS folder");
        }
        let mut browser = Browser {
            child,
            commands,
            messages,
            next_id: 0,
            pages: Vec::new(),
            errors: Vec::new(),
            dir,
            log_path,
            server_log: None,
            shots,
        };
        if let Err(e) = browser.call(None, "Browser.getVersion", json!({})) {
            browser.fail(&format!(
                "Chromium did not answer over the DevTools pipe: {e}"
            ));
        }
        browser
    }

    /// One DevTools command; events that arrive meanwhile are looked at and dropped.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .and_then(|()| self.commands.flush())
            .map_err(|e| format!("{method}: cannot write to Chromium: {e}"))?;
        let deadline = Instant::now() + CALL;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match self.messages.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{method}: no answer within {CALL:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{method}: Chromium has exited"))
                }
            };
            if message["id"].as_u64() == Some(id) {
                return match message.get("error") {
                    Some(error) => Err(format!("{method}: {error}")),
                    None => Ok(message["result"].clone()),
                };
            }
            self.event(&message);
        }
    }

    fn event(&mut self, message: &Value) {
        let page = self
            .pages
            .iter()
            .find(|(_, s)| message["sessionId"].as_str() == Some(s.as_str()))
            .map_or("?", |(name, _)| *name);
        let params = &message["params"];
        match message["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("?");
                self.errors.push(format!("{page}: uncaught: {text}"));
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        a["value"]
                            .as_str()
                            .map_or_else(|| a["description"].to_string(), str::to_string)
                    })
                    .collect();
                self.errors
                    .push(format!("{page}: console.error: {}", args.join(" ")));
            }
            _ => {}
        }
    }

    pub(crate) fn page_errors(&mut self) -> Vec<String> {
        // Pick up events still queued.
        let _ = self.call(None, "Browser.getVersion", json!({}));
        self.errors.clone()
    }

    pub(crate) fn new_page(&mut self, name: &'static str) -> Page {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .unwrap_or_else(|e| self.fail(&e));
        let target = target["targetId"].as_str().unwrap().to_string();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .unwrap_or_else(|e| self.fail(&e));
        let session = attached["sessionId"].as_str().unwrap().to_string();
        self.pages.push((name, session.clone()));
        let page = Page {
            name,
            session,
            frame: None,
        };
        for (method, params) in [
            ("Page.enable", json!({})),
            ("Runtime.enable", json!({})),
            (
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
            ),
        ] {
            self.page_call(&page, method, params);
        }
        self.bring_to_front(&page);
        page
    }

    fn page_call(&mut self, page: &Page, method: &str, params: Value) -> Value {
        let session = page.session.clone();
        self.call(Some(&session), method, params)
            .unwrap_or_else(|e| self.fail(&format!("{}: {e}", page.name)))
    }

    /// The URL each child frame of the page has committed (an error page's is `chrome-error:`).
    pub(crate) fn child_frame_urls(&mut self, page: &Page) -> Vec<String> {
        let tree = self.page_call(page, "Page.getFrameTree", json!({}));
        tree["frameTree"]["childFrames"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|child| {
                child["frame"]["url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// The page itself, for a frame of it.
    pub(crate) fn top(&self, page: &Page) -> Page {
        Page {
            name: page.name,
            session: page.session.clone(),
            frame: None,
        }
    }

    /// The frame of `page` shown by the `<iframe>` at `iframe` (a selector), once it has loaded
    /// a document whose URL starts with `url`: evaluations and clicks then happen in it.
    pub(crate) fn frame(&mut self, page: &Page, iframe: &str, url: &str) -> Page {
        let deadline = Instant::now() + STEP;
        let frame_id = loop {
            let tree = self.page_call(page, "Page.getFrameTree", json!({}));
            let found = tree["frameTree"]["childFrames"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|child| &child["frame"])
                .find(|f| f["url"].as_str().is_some_and(|u| u.starts_with(url)))
                .and_then(|f| f["id"].as_str().map(str::to_string));
            if let Some(id) = found {
                break id;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{}: no frame showing {url}: {tree}", page.name));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let world = self.page_call(
            page,
            "Page.createIsolatedWorld",
            json!({ "frameId": frame_id, "worldName": "web-chromium-test" }),
        );
        let context = world["executionContextId"]
            .as_i64()
            .unwrap_or_else(|| self.fail(&format!("no isolated world: {world}")));
        let framed = Page {
            name: page.name,
            session: page.session.clone(),
            frame: Some((context, iframe.to_string())),
        };
        self.wait_eq(
            &framed,
            &format!("{url} loaded in the frame"),
            "document.readyState",
            json!("complete"),
        );
        framed
    }

    pub(crate) fn bring_to_front(&mut self, page: &Page) {
        self.page_call(page, "Page.bringToFront", json!({}));
    }

    pub(crate) fn navigate(&mut self, page: &Page, url: &str) {
        self.bring_to_front(page);
        let result = self.page_call(page, "Page.navigate", json!({ "url": url }));
        if let Some(error) = result["errorText"].as_str() {
            self.fail(&format!("{}: cannot open {url}: {error}", page.name));
        }
        self.wait_eq(
            page,
            &format!("{url} loaded"),
            "document.readyState",
            json!("complete"),
        );
    }

    /// Evaluates `expr` in the page (promises awaited); Err for an exception or a page between
    /// two documents.
    fn eval(&mut self, page: &Page, expr: &str) -> Result<Value, String> {
        let session = page.session.clone();
        let mut params = json!({ "expression": expr, "returnByValue": true, "awaitPromise": true });
        if let Some((context, _)) = &page.frame {
            params["contextId"] = json!(context);
        }
        let result = self.call(Some(&session), "Runtime.evaluate", params)?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("?");
            return Err(text.to_string());
        }
        Ok(result["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Polls `expr` until `ok` accepts its value (at most [`STEP`]).
    pub(crate) fn wait_value(
        &mut self,
        page: &Page,
        what: &str,
        expr: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + STEP;
        let mut last: Result<Value, String>;
        loop {
            last = self.eval(page, expr);
            if let Ok(v) = &last {
                if ok(v) {
                    return v.clone();
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let seen = match last {
            Ok(v) => serde_json::to_string_pretty(&v).unwrap(),
            Err(e) => format!("error: {e}"),
        };
        self.fail(&format!(
            "{}: {what}: not there within {STEP:?}.\nchecked: {expr}\nlast seen: {seen}",
            page.name
        ))
    }

    pub(crate) fn wait_eq(&mut self, page: &Page, what: &str, expr: &str, want: Value) -> Value {
        let seen = self.wait_value(page, what, expr, |v| *v == want);
        debug_assert_eq!(seen, want);
        seen
    }

    /// A real mouse click in the middle of the element, once it is there, visible, enabled and
    /// not covered.
    pub(crate) fn click(&mut self, page: &Page, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let expr = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e || e.disabled) return null; \
             e.scrollIntoView({{block: 'center', inline: 'center', behavior: 'instant'}}); \
             const r = e.getBoundingClientRect(); if (r.width < 1 || r.height < 1) return null; \
             const x = r.left + r.width / 2, y = r.top + r.height / 2; \
             const hit = document.elementFromPoint(x, y); \
             return hit && (hit === e || e.contains(hit)) ? [x, y] : null; }})()"
        );
        let at = self.wait_value(
            page,
            &format!("{selector} clickable"),
            &expr,
            Value::is_array,
        );
        let (mut x, mut y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        if let Some((_, iframe)) = page.frame.clone() {
            let top = self.top(page);
            let sel = serde_json::to_string(&iframe).unwrap();
            let offset = self.wait_value(
                &top,
                &format!("{iframe} on screen"),
                &format!(
                    "(f => {{ if (!f) return null; const r = f.getBoundingClientRect(); \
                     return [r.left + f.clientLeft, r.top + f.clientTop]; }})(document.querySelector({sel}))"
                ),
                Value::is_array,
            );
            x += offset[0].as_f64().unwrap();
            y += offset[1].as_f64().unwrap();
        }
        self.page_call(
            page,
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        );
        for kind in ["mousePressed", "mouseReleased"] {
            self.page_call(
                page,
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1 }),
            );
        }
    }

    /// Clicks the field, selects what it holds (as Ctrl+A would), then types `text` key by key
    /// over it (a line break is the Enter key).
    pub(crate) fn type_into(&mut self, page: &Page, selector: &str, text: &str) {
        self.click(page, selector);
        let sel = serde_json::to_string(selector).unwrap();
        self.wait_eq(
            page,
            &format!("{selector} focused"),
            &format!("(e => e === document.activeElement && (e.select(), true))(document.querySelector({sel}))"),
            json!(true),
        );
        for c in text.chars() {
            if c == '\n' {
                self.press_enter(page);
                continue;
            }
            let key = c.to_string();
            self.page_call(
                page,
                "Input.dispatchKeyEvent",
                json!({ "type": "keyDown", "key": key, "text": key, "unmodifiedText": key }),
            );
            self.page_call(
                page,
                "Input.dispatchKeyEvent",
                json!({ "type": "keyUp", "key": key }),
            );
        }
    }

    /// One key pressed and released where the focus is (`key` as `KeyboardEvent.key`: a
    /// character, or Escape, ArrowDown, ArrowUp).
    pub(crate) fn press_key(&mut self, page: &Page, key: &str) {
        let code = match key {
            "Escape" => 27,
            "ArrowUp" => 38,
            "ArrowDown" => 40,
            _ => 0,
        };
        let mut down = json!({ "type": "keyDown", "key": key });
        if code == 0 {
            down["text"] = json!(key);
            down["unmodifiedText"] = json!(key);
        } else {
            down["type"] = json!("rawKeyDown");
            down["code"] = json!(key);
            down["windowsVirtualKeyCode"] = json!(code);
        }
        self.page_call(page, "Input.dispatchKeyEvent", down);
        let mut up = json!({ "type": "keyUp", "key": key });
        if code != 0 {
            up["code"] = json!(key);
            up["windowsVirtualKeyCode"] = json!(code);
        }
        self.page_call(page, "Input.dispatchKeyEvent", up);
    }

    /// Picks `value` in the `<select>` at `selector` (once it has that option), as a person
    /// choosing from the list does: the value changes and `change` fires.
    pub(crate) fn choose(&mut self, page: &Page, selector: &str, value: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let val = serde_json::to_string(value).unwrap();
        self.wait_eq(
            page,
            &format!("{value:?} chosen in {selector}"),
            &format!(
                "(s => {{ if (!s || s.disabled || ![...s.options].some(o => o.value === {val})) return false; \
                 s.value = {val}; s.dispatchEvent(new Event('input', {{bubbles: true}})); \
                 s.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})(document.querySelector({sel}))"
            ),
            json!(true),
        );
    }

    /// A browser-wide DevTools command (e.g. `Browser.grantPermissions`).
    pub(crate) fn browser_command(&mut self, method: &str, params: Value) -> Value {
        self.call(None, method, params)
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// A DevTools command for one page (e.g. `Page.addScriptToEvaluateOnNewDocument`).
    pub(crate) fn page_command(&mut self, page: &Page, method: &str, params: Value) -> Value {
        self.page_call(page, method, params)
    }

    pub(crate) fn press_enter(&mut self, page: &Page) {
        let key = json!({ "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13 });
        let mut down = key.clone();
        down["type"] = json!("keyDown");
        down["text"] = json!("\r");
        down["unmodifiedText"] = json!("\r");
        self.page_call(page, "Input.dispatchKeyEvent", down);
        let mut up = key;
        up["type"] = json!("keyUp");
        self.page_call(page, "Input.dispatchKeyEvent", up);
    }

    fn screenshot(&mut self, session: &str, path: &Path) -> Result<(), String> {
        let shot = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({ "format": "png" }),
        )?;
        let png = base64_decode(shot["data"].as_str().unwrap_or_default()).ok_or("bad base64")?;
        std::fs::write(path, png).map_err(|e| e.to_string())
    }

    /// With PERSONABOT_BROWSER_SCREENSHOTS=DIR: a screenshot of this step.
    pub(crate) fn step_screenshot(&mut self, page: &Page, name: &str) {
        if let Some(dir) = self.shots.clone() {
            let session = page.session.clone();
            if let Err(e) = self.screenshot(&session, &dir.join(format!("{name}.png"))) {
                self.fail(&format!("screenshot {name}: {e}"));
            }
        }
    }

    pub(crate) fn check(&mut self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }

    /// Saves a screenshot and the HTML of every page, then panics with `message`.
    pub(crate) fn fail(&mut self, message: &str) -> ! {
        let mut saved = Vec::new();
        for (name, session) in self.pages.clone() {
            let png = self.dir.join(format!("{name}-failure.png"));
            if self.screenshot(&session, &png).is_ok() {
                saved.push(png.display().to_string());
            }
            let html = self.call(
                Some(&session),
                "Runtime.evaluate",
                json!({ "expression": "location.href + '\\n' + document.documentElement.outerHTML", "returnByValue": true }),
            );
            if let Some(html_text) = html
                .ok()
                .and_then(|v| v["result"]["value"].as_str().map(str::to_string))
            {
                let path = self.dir.join(format!("{name}-failure.html"));
                if std::fs::write(&path, html_text).is_ok() {
                    saved.push(path.display().to_string());
                }
            }
        }
        let chromium_log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        // The last lines, less the D-Bus noise of a machine without a session bus.
        let mut chromium_tail: Vec<&str> = chromium_log
            .lines()
            .filter(|l| !l.contains("dbus"))
            .rev()
            .take(15)
            .collect();
        chromium_tail.reverse();
        let server_log = self
            .server_log
            .as_ref()
            .map(|l| l.lock().unwrap().join("\n"))
            .unwrap_or_default();
        panic!(
            "{message}\n\nsaved: {saved:#?}\npage errors: {:#?}\nserver log:\n{server_log}\nchromium log (last lines):\n{}",
            self.errors,
            chromium_tail.join("\n")
        );
    }

    /// Fails on any JavaScript error the pages raised, then closes the browser.
    pub(crate) fn close_clean(mut self) {
        let problems = self.page_errors();
        self.check(
            problems.is_empty(),
            &format!("JavaScript errors on the pages: {problems:#?}"),
        );
        self.close();
    }

    pub(crate) fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&full[..chunk.len().saturating_sub(1)]);
    }
    Some(out)
}
