//! The state machine as a self-contained SVG picture, with an execution's path on it.
//!
//! Every class is scoped under `svg.stepline-graph` so that the picture can be inlined
//! into a page without its style leaking. State names are user input: every piece of
//! text and every attribute value goes through [`escape`].

use std::fmt::Write;

use super::PathHighlight;
use super::layout::{
    Edge, EdgeKind, HEADER_H, LABEL_MAX_W, Layout, NAME_PX, Node, NodeKind, SMALL_PX, fit, layout, name_room,
    text_width,
};
use crate::definition::StateMachine;

/// The embedded style sheet.
const STYLE: &str = "
svg.stepline-graph { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; }
svg.stepline-graph .node > rect, svg.stepline-graph .node > polygon { fill: #ffffff; stroke: #8c959f; stroke-width: 1.5; }
svg.stepline-graph .node .name { font-size: 13px; font-weight: 600; fill: #1f2328; text-anchor: middle; }
svg.stepline-graph .node .type { font-size: 11px; fill: #656d76; text-anchor: middle; }
svg.stepline-graph .node.marker > rect { fill: #eaeef2; }
svg.stepline-graph .node.marker .name { font-size: 11px; fill: #57606a; }
svg.stepline-graph .node.container > rect { fill: #f6f8fa; stroke-dasharray: 6 4; }
svg.stepline-graph .node.group > rect { fill: #ffffff; fill-opacity: 0.6; stroke: #d0d7de; stroke-dasharray: 3 3; stroke-width: 1; }
svg.stepline-graph .node.group .label { font-size: 11px; fill: #656d76; }
svg.stepline-graph .node.visited > rect, svg.stepline-graph .node.visited > polygon { fill: #dafbe1; stroke: #1a7f37; stroke-width: 2; }
svg.stepline-graph .node.container.visited > rect { fill: #f0fbf2; }
svg.stepline-graph .node.caught > rect, svg.stepline-graph .node.caught > polygon { fill: #fff1e5; stroke: #bc4c00; stroke-width: 2; }
svg.stepline-graph .node.current > rect, svg.stepline-graph .node.current > polygon { fill: #ddf4ff; stroke: #0969da; stroke-width: 3; animation: sl-pulse 1.6s ease-in-out infinite; }
svg.stepline-graph .node.failed > rect, svg.stepline-graph .node.failed > polygon { fill: #ffebe9; stroke: #cf222e; stroke-width: 3; }
svg.stepline-graph .node.container.failed > rect { fill: #fff8f7; }
svg.stepline-graph .node.state { cursor: pointer; }
svg.stepline-graph .edge path { fill: none; stroke: #8c959f; stroke-width: 1.5; marker-end: url(#sl-arrow); }
svg.stepline-graph .edge.catch path { stroke-dasharray: 5 4; }
svg.stepline-graph .edge.taken path { stroke: #1a7f37; stroke-width: 2.5; marker-end: url(#sl-arrow-taken); }
svg.stepline-graph .edge .label rect { fill: #ffffff; fill-opacity: 0.9; }
svg.stepline-graph .edge .label text { font-size: 11px; fill: #57606a; text-anchor: middle; }
svg.stepline-graph .edge.taken .label text { fill: #1a7f37; font-weight: 600; }
@keyframes sl-pulse { 50% { stroke-opacity: 0.35; } }
";

/// Renders `sm` as SVG, with `path` highlighted: visited states and taken transitions in
/// green, states left through a Catch in orange, the current state(s) in blue, the
/// state(s) an unsuccessful execution ended in in red.
pub fn render_svg(sm: &StateMachine, path: &PathHighlight) -> String {
    let lay = layout(sm);
    let taken: Vec<bool> = lay.edges.iter().map(|e| edge_taken(&lay, e, path)).collect();
    let mut out = String::with_capacity(4096 + 600 * lay.nodes.len());
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"stepline-graph\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"State machine graph\">",
        w = num(lay.width),
        h = num(lay.height)
    );
    let _ = writeln!(out, "<style>{STYLE}</style>");
    out.push_str("<defs>");
    for (id, color) in [("sl-arrow", "#8c959f"), ("sl-arrow-taken", "#1a7f37")] {
        let _ = write!(
            out,
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"10\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{color}\"/></marker>"
        );
    }
    out.push_str("</defs>\n");
    // Containers first (they are backgrounds), then edges, then the boxes on top.
    for (i, n) in lay.nodes.iter().enumerate() {
        if is_frame(n) {
            node(&mut out, &lay, i, n, path, &taken);
        }
    }
    for (e, &t) in lay.edges.iter().zip(&taken) {
        edge(&mut out, &lay, e, t);
    }
    for (i, n) in lay.nodes.iter().enumerate() {
        if !is_frame(n) {
            node(&mut out, &lay, i, n, path, &taken);
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Escapes text for XML content and attribute values; characters XML 1.0 forbids
/// become U+FFFD.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Coordinates with one decimal, so output is stable and compact.
fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

fn is_frame(n: &Node) -> bool {
    matches!(n.kind, NodeKind::Group { .. } | NodeKind::State { container: true, .. })
}

fn state_name(n: &Node) -> Option<&str> {
    match &n.kind {
        NodeKind::State { name, .. } => Some(name),
        _ => None,
    }
}

/// Whether the execution went along `e`.
fn edge_taken(lay: &Layout, e: &Edge, path: &PathHighlight) -> bool {
    let (from, to) = (state_name(&lay.nodes[e.from]), state_name(&lay.nodes[e.to]));
    match (e.kind, from, to) {
        (EdgeKind::Start, _, Some(to)) => path.visited.contains(to),
        (EdgeKind::End, Some(from), _) => {
            path.visited.contains(from) && !path.current.contains(from) && !path.failed.contains(from)
        }
        (_, Some(from), Some(to)) => path.taken.contains(&(from.to_string(), to.to_string())),
        _ => false,
    }
}

fn node(out: &mut String, lay: &Layout, index: usize, n: &Node, path: &PathHighlight, taken: &[bool]) {
    let (x, y, w, h) = (num(n.x), num(n.y), num(n.w), num(n.h));
    let (cx, cy) = (num(n.cx()), n.cy());
    match &n.kind {
        NodeKind::Start | NodeKind::End => {
            let (label, incoming) = match n.kind {
                NodeKind::Start => ("Start", false),
                _ => ("End", true),
            };
            let lit =
                lay.edges.iter().zip(taken).any(|(e, &t)| t && if incoming { e.to == index } else { e.from == index });
            let class = if lit { "node marker visited" } else { "node marker" };
            let _ = writeln!(
                out,
                "<g class=\"{class}\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"{r}\"/><text class=\"name\" x=\"{cx}\" y=\"{ty}\">{label}</text></g>",
                r = num(n.h / 2.0),
                ty = num(cy + 4.0)
            );
        }
        NodeKind::Group { label } => {
            let _ = writeln!(
                out,
                "<g class=\"node group\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\"/><text class=\"label\" x=\"{lx}\" y=\"{ly}\">{}</text></g>",
                escape(label),
                lx = num(n.x + 8.0),
                ly = num(n.y + 15.0)
            );
        }
        NodeKind::State { name, type_name, container } => {
            let mut class = format!("node state type-{}", type_name.to_ascii_lowercase());
            for (set, c) in [
                (&path.visited, "visited"),
                (&path.caught, "caught"),
                (&path.current, "current"),
                (&path.failed, "failed"),
            ] {
                if set.contains(name.as_str()) {
                    class.push(' ');
                    class.push_str(c);
                }
            }
            if *container {
                class.push_str(" container");
            }
            let esc_name = escape(name);
            let _ = write!(
                out,
                "<g class=\"{class}\" data-state=\"{esc_name}\" data-depth=\"{}\"><title>{esc_name} ({type_name})</title>",
                n.depth
            );
            let shown = escape(&fit(name, name_room(type_name, n.w), NAME_PX));
            let (name_y, type_y) = if *container { (n.y + 20.0, n.y + 36.0) } else { (cy - 2.0, cy + 13.0) };
            match *type_name {
                "Choice" => {
                    let _ = write!(
                        out,
                        "<polygon points=\"{cx},{y} {r},{m} {cx},{b} {x},{m}\"/>",
                        r = num(n.x + n.w),
                        m = num(cy),
                        b = num(n.y + n.h)
                    );
                }
                "Succeed" | "Fail" => {
                    let r = num((n.h / 2.0).min(22.0));
                    let _ = write!(out, "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"{r}\"/>");
                }
                _ => {
                    let r = if *container { 10 } else { 6 };
                    let _ = write!(out, "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"{r}\"/>");
                }
            }
            if *container {
                // A rule under the header separates it from the flows inside.
                let _ = write!(
                    out,
                    "<line x1=\"{x}\" y1=\"{ly}\" x2=\"{x2}\" y2=\"{ly}\" stroke=\"#d0d7de\"/>",
                    ly = num(n.y + HEADER_H - 4.0),
                    x2 = num(n.x + n.w)
                );
            }
            let _ = writeln!(
                out,
                "<text class=\"name\" x=\"{cx}\" y=\"{}\">{shown}</text><text class=\"type\" x=\"{cx}\" y=\"{}\">{type_name}</text></g>",
                num(name_y),
                num(type_y)
            );
        }
    }
}

fn edge(out: &mut String, lay: &Layout, e: &Edge, taken: bool) {
    let Some(first) = e.points.first() else { return };
    let mut class = String::from("edge");
    match e.kind {
        EdgeKind::Catch => class.push_str(" catch"),
        EdgeKind::Rule(_) => class.push_str(" rule"),
        EdgeKind::Default => class.push_str(" default"),
        _ => {}
    }
    if e.back {
        class.push_str(" back");
    }
    if taken {
        class.push_str(" taken");
    }
    let mut d = format!("M{},{}", num(first.x), num(first.y));
    for pair in e.points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if e.back || (a.x - b.x).abs() < 0.5 {
            let _ = write!(d, " L{},{}", num(b.x), num(b.y));
        } else {
            // Vertical tangents at both ends: smooth fan-out between layers.
            let my = num((a.y + b.y) / 2.0);
            let _ = write!(d, " C{},{my} {},{my} {},{}", num(a.x), num(b.x), num(b.x), num(b.y));
        }
    }
    let attr = |i: usize| state_name(&lay.nodes[i]).map(escape).unwrap_or_default();
    let _ =
        write!(out, "<g class=\"{class}\" data-from=\"{}\" data-to=\"{}\"><path d=\"{d}\"/>", attr(e.from), attr(e.to));
    if let (Some(label), Some(at)) = (&e.label, e.label_at) {
        let shown = fit(label, LABEL_MAX_W, SMALL_PX);
        let w = text_width(&shown, SMALL_PX) + 8.0;
        let _ = write!(
            out,
            "<g class=\"label\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"15\" rx=\"3\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            escape(label),
            num(at.x - w / 2.0),
            num(at.y - 8.0),
            num(w),
            num(at.x),
            num(at.y + 3.5),
            escape(&shown)
        );
    }
    out.push_str("</g>\n");
}
