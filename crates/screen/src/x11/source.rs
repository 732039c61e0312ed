//! What to share, as the user writes it: `x11[:DISPLAY][@WxH+X+Y]`. Parsing is
//! kept apart from connecting so that a typo is reported before anything touches
//! the X server, and so that it can be tested without one.
//!
//! The display part is an X display name as `$DISPLAY` holds it, so it starts
//! with ':' (`x11::99` is display `:99`). A bare number (`x11:99`) is accepted
//! too because that is what people type.

use std::fmt;
use std::str::FromStr;

use super::X11Error;

/// Largest coordinate or size the X protocol can carry in a GetImage request.
const MAX_X11_COORDINATE: u32 = i16::MAX as u32;

/// A rectangle of the screen, in root-window pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    /// The part of this region that lies on a `screen_width`x`screen_height`
    /// screen, or `None` if nothing does.
    pub fn clip_to(&self, screen_width: u32, screen_height: u32) -> Option<Region> {
        let right = self.x.saturating_add(self.width).min(screen_width);
        let bottom = self.y.saturating_add(self.height).min(screen_height);
        (self.x < right && self.y < bottom).then(|| Region {
            x: self.x,
            y: self.y,
            width: right - self.x,
            height: bottom - self.y,
        })
    }
}

/// `WxH+X+Y`, the X geometry notation the spec uses.
impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}+{}+{}", self.width, self.height, self.x, self.y)
    }
}

/// Where X11 screen sharing takes its pictures from: a display (`None`: the
/// one `$DISPLAY` names) and optionally a region of its screen (`None`: all
/// of it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct X11Source {
    pub display: Option<String>,
    pub region: Option<Region>,
}

impl X11Source {
    /// Parses `x11[:DISPLAY][@WxH+X+Y]`.
    pub fn parse(spec: &str) -> Result<X11Source, X11Error> {
        let bad = |reason: &str| X11Error::BadSpec {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = spec
            .strip_prefix("x11")
            .ok_or_else(|| bad("it does not start with \"x11\""))?;
        let (display_part, region_part) = match rest.rsplit_once('@') {
            Some((display_part, region_part)) => (display_part, Some(region_part)),
            None => (rest, None),
        };
        let display = if display_part.is_empty() {
            None
        } else {
            let name = display_part
                .strip_prefix(':')
                .ok_or_else(|| bad("\"x11\" must be followed by ':DISPLAY' or '@REGION'"))?;
            Some(normalise_display_name(name).map_err(|reason| bad(&reason))?)
        };
        let region = region_part
            .map(parse_region)
            .transpose()
            .map_err(|reason| bad(&reason))?;
        Ok(X11Source { display, region })
    }

    /// Whether `spec` asks for an X11 source at all (as opposed to `test` or a
    /// file name), so a caller can choose the parser without guessing.
    pub fn is_x11_spec(spec: &str) -> bool {
        spec == "x11" || spec.starts_with("x11:") || spec.starts_with("x11@")
    }

    /// The display name to connect to: the one in the spec, else `$DISPLAY`.
    pub fn display_name(&self) -> Result<String, X11Error> {
        resolve_display(
            self.display.as_deref(),
            std::env::var("DISPLAY").ok(),
            std::env::var("WAYLAND_DISPLAY").ok(),
        )
    }
}

impl FromStr for X11Source {
    type Err = X11Error;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        X11Source::parse(spec)
    }
}

/// The canonical spec, which parses back to the same source.
impl fmt::Display for X11Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("x11")?;
        if let Some(display) = &self.display {
            write!(f, ":{display}")?;
        }
        if let Some(region) = &self.region {
            write!(f, "@{region}")?;
        }
        Ok(())
    }
}

/// Picks the display from the spec or the environment. Takes the environment
/// as arguments so that tests need not change the process's variables.
pub(crate) fn resolve_display(
    explicit: Option<&str>,
    env_display: Option<String>,
    env_wayland_display: Option<String>,
) -> Result<String, X11Error> {
    if let Some(name) = explicit {
        return Ok(name.to_owned());
    }
    if let Some(name) = env_display.filter(|name| !name.is_empty()) {
        return Ok(name);
    }
    match env_wayland_display.filter(|name| !name.is_empty()) {
        Some(wayland_display) => Err(X11Error::WaylandOnly { wayland_display }),
        None => Err(X11Error::NoDisplay),
    }
}

/// `99` and `99.0` become `:99` and `:99.0`; names that already say where the
/// server is (`:99`, `host:0`, `unix:0`) are kept.
fn normalise_display_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("the display name after ':' is empty".into());
    }
    if is_display_number(name) {
        return Ok(format!(":{name}"));
    }
    match name.rsplit_once(':') {
        Some((_, number)) if is_display_number(number) => Ok(name.to_owned()),
        _ => Err(format!(
            "{name:?} is not an X display name (like :0, :99.0 or host:10)"
        )),
    }
}

/// `N` or `N.S`: a display number with an optional screen number.
fn is_display_number(text: &str) -> bool {
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('.') {
        Some((display, screen)) => all_digits(display) && all_digits(screen),
        None => all_digits(text),
    }
}

/// `WxH+X+Y`, or `WxH` for a region at the top-left corner.
fn parse_region(text: &str) -> Result<Region, String> {
    let shape_error = || format!("region {text:?} must look like WxH+X+Y, e.g. 1280x720+0+0");
    let (size, offset) = match text.find('+') {
        Some(plus) => (&text[..plus], Some(&text[plus + 1..])),
        None => (text, None),
    };
    let (width, height) = size.split_once('x').ok_or_else(shape_error)?;
    let (x, y) = match offset {
        Some(offset) => offset.split_once('+').ok_or_else(shape_error)?,
        None => ("0", "0"),
    };
    let number = |part: &str| -> Result<u32, String> {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape_error());
        }
        part.parse::<u32>()
            .ok()
            .filter(|value| *value <= MAX_X11_COORDINATE)
            .ok_or_else(|| {
                format!("{part} in region {text:?} is larger than X allows ({MAX_X11_COORDINATE})")
            })
    };
    let region = Region {
        x: number(x)?,
        y: number(y)?,
        width: number(width)?,
        height: number(height)?,
    };
    if region.width == 0 || region.height == 0 {
        return Err(format!("region {text:?} is empty"));
    }
    Ok(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> X11Source {
        match X11Source::parse(spec) {
            Ok(source) => source,
            Err(error) => panic!("{spec:?} should parse: {error}"),
        }
    }

    fn region(width: u32, height: u32, x: u32, y: u32) -> Option<Region> {
        Some(Region {
            x,
            y,
            width,
            height,
        })
    }

    #[test]
    fn display_and_region_are_optional() {
        assert_eq!(parse("x11"), X11Source::default());
        assert_eq!(parse("x11::99").display.as_deref(), Some(":99"));
        assert_eq!(parse("x11:99").display.as_deref(), Some(":99"));
        assert_eq!(parse("x11:99.1").display.as_deref(), Some(":99.1"));
        assert_eq!(parse("x11:host:10.0").display.as_deref(), Some("host:10.0"));
        let source = parse("x11::0@1280x720+0+0");
        assert_eq!(source.display.as_deref(), Some(":0"));
        assert_eq!(source.region, region(1280, 720, 0, 0));
        assert_eq!(parse("x11@640x480+10+20").region, region(640, 480, 10, 20));
        assert_eq!(parse("x11@640x480").region, region(640, 480, 0, 0));
    }

    #[test]
    fn canonical_spec_parses_back() {
        for spec in ["x11", "x11::99", "x11::0@1280x720+0+0", "x11@3x4+5+6"] {
            assert_eq!(parse(spec).to_string(), spec);
        }
        assert_eq!(parse("x11:7").to_string(), "x11::7");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, needle) in [
            ("X11", "does not start"),
            ("x11foo", "must be followed"),
            ("x11:", "empty"),
            ("x11:abc", "not an X display name"),
            ("x11::0@", "must look like"),
            ("x11::0@1280x720+0", "must look like"),
            ("x11::0@1280+0+0", "must look like"),
            ("x11::0@0x720+0+0", "empty"),
            ("x11::0@-5x720+0+0", "must look like"),
            ("x11::0@99999x720+0+0", "larger than X allows"),
        ] {
            match X11Source::parse(spec) {
                Ok(source) => panic!("{spec:?} parsed as {source:?}"),
                Err(error) => {
                    let message = error.to_string();
                    assert!(message.contains(needle), "{spec:?}: {message}");
                }
            }
        }
    }

    #[test]
    fn recognises_x11_specs() {
        assert!(X11Source::is_x11_spec("x11"));
        assert!(X11Source::is_x11_spec("x11::0"));
        assert!(X11Source::is_x11_spec("x11@1x1+0+0"));
        assert!(!X11Source::is_x11_spec("test"));
        assert!(!X11Source::is_x11_spec("x11.png"));
    }

    #[test]
    fn display_comes_from_spec_then_environment() {
        let resolved = resolve_display(Some(":5"), Some(":1".into()), None);
        assert_eq!(resolved.ok().as_deref(), Some(":5"));
        let resolved = resolve_display(None, Some(":1".into()), Some("wayland-0".into()));
        assert_eq!(resolved.ok().as_deref(), Some(":1"));
        assert!(matches!(
            resolve_display(None, None, None),
            Err(X11Error::NoDisplay)
        ));
        assert!(matches!(
            resolve_display(None, Some(String::new()), None),
            Err(X11Error::NoDisplay)
        ));
    }

    #[test]
    fn wayland_only_session_explains_what_works() {
        let error = match resolve_display(None, None, Some("wayland-0".into())) {
            Err(error) => error,
            Ok(name) => panic!("resolved {name}"),
        };
        let message = error.to_string();
        assert!(message.contains("Wayland"), "{message}");
        assert!(message.contains("XWayland"), "{message}");
        assert!(message.contains("`test`"), "{message}");
        assert!(message.contains("image file"), "{message}");
    }

    #[test]
    fn clipping_keeps_the_part_on_screen() {
        let wide = Region {
            x: 1000,
            y: 600,
            width: 500,
            height: 500,
        };
        assert_eq!(wide.clip_to(1280, 720), region(280, 120, 1000, 600));
        assert_eq!(wide.clip_to(1000, 720), None);
        let inside = Region {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
        };
        assert_eq!(inside.clip_to(1280, 720), Some(inside));
    }
}
