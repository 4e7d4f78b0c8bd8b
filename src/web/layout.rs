//! The frame every page shares, the embedded script and style, and the SVG chart.
//! Maud escapes every value it renders, so text from the database is inert.

use super::Session;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

const SCRIPT: &str = include_str!("static/live.js");
const STYLE: &str = include_str!("static/style.css");

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// A whole page: navigation, the signed-in user, an optional notice, the body.
pub fn page(title: &str, session: &Session, notice: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · stagehand" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/live.js" defer {}
            }
            body {
                nav {
                    strong { "stagehand" }
                    a href="/" { "Overview" }
                    a href="/tasks" { "Tasks" }
                    a href="/processes" { "Processes" }
                    a href="/failed" { "Failed" }
                    a href="/drivers" { "Drivers" }
                    a href="/metrics" { "Metrics" }
                    span.user { (session.principal.name) " (" (session.principal.role.as_str()) ")" }
                }
                main {
                    h1 { (title) }
                    @if let Some(notice) = notice {
                        p.notice role="status" { (notice) }
                    }
                    (body)
                }
            }
        }
    }
}

pub fn error_page(status: StatusCode, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "stagehand: " (status.as_u16()) } link rel="stylesheet" href="/static/style.css"; }
            body { main { h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) } p.error { (message) } p { a href="/" { "Overview" } } } }
        }
    }
}

/// A POST form of one button, with the session's CSRF token.
pub fn action(session: &Session, path: &str, label: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        form.inline method="post" action=(path) {
            input type="hidden" name=(super::csrf::FIELD) value=(session.csrf);
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name=(super::csrf::FIELD) value=(session.csrf); }
}

pub fn time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => {
            html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) } }
        }
        None => html! { "—" },
    }
}

pub fn status(status: &str) -> Markup {
    html! { span class={ "status " (status) } { (status) } }
}

pub fn seconds(value: Option<f64>) -> String {
    match value {
        Some(s) if s < 120.0 => format!("{s:.1} s"),
        Some(s) => format!("{:.1} min", s / 60.0),
        None => "—".to_string(),
    }
}

/// One series of a bar chart.
pub struct Series<'a> {
    pub label: &'a str,
    pub class: &'a str,
    pub values: Vec<f64>,
}

/// A grouped bar chart as inline SVG: one group per label, one bar per series.
pub fn bar_chart(title: &str, labels: &[String], series: &[Series]) -> Markup {
    let (width, height, left, bottom) = (720.0_f64, 180.0_f64, 40.0_f64, 24.0_f64);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(1.0_f64, f64::max);
    let groups = labels.len().max(1) as f64;
    let group_width = (width - left) / groups;
    let bar_width = (group_width * 0.8 / series.len().max(1) as f64).max(1.0);
    let plot = height - bottom;
    let label_every = (labels.len() / 12).max(1);
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(title) {
                line.axis x1=(left) y1=(plot) x2=(width) y2=(plot) {}
                text.tick x="0" y="12" { (format!("{max:.0}")) }
                text.tick x="0" y=(plot) { "0" }
                @for (g, label) in labels.iter().enumerate() {
                    @for (s, serie) in series.iter().enumerate() {
                        @let value = serie.values.get(g).copied().unwrap_or(0.0);
                        @let h = value / max * (plot - 4.0);
                        rect class=(serie.class)
                            x=(format!("{:.1}", left + g as f64 * group_width + s as f64 * bar_width))
                            y=(format!("{:.1}", plot - h)) width=(format!("{bar_width:.1}")) height=(format!("{h:.1}")) {
                            title { (label) " " (serie.label) ": " (value) }
                        }
                    }
                    @if g % label_every == 0 {
                        text.tick x=(format!("{:.1}", left + g as f64 * group_width)) y=(height - 6.0) { (label) }
                    }
                }
            }
            figcaption {
                (title) ": "
                @for serie in series { span class={ "key " (serie.class) } { (serie.label) } " " }
            }
        }
    }
}
