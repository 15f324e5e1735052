//! `-p/--publish` specs (pure): `[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`, with ranges
//! (`8000-8002:8000-8002`) and bracketed IPv6 (`[::1]:8080:80`), as Docker reads them.

use std::fmt;
use std::net::IpAddr;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port. `host_port` 0 means "a free port chosen at start".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    /// The host address to listen on; `None` = all interfaces (Docker's default).
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl fmt::Display for PortMapping {
    /// `devbox port`'s shape: `80/tcp -> 0.0.0.0:8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = match self.host_ip {
            None => "0.0.0.0".to_string(),
            Some(IpAddr::V6(ip)) => format!("[{ip}]"),
            Some(ip) => ip.to_string(),
        };
        write!(
            f,
            "{}/{} -> {ip}:{}",
            self.container_port, self.proto, self.host_port
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("invalid publish spec `{spec}`: {reason}")]
    Invalid { spec: String, reason: String },
}

fn invalid(spec: &str, reason: impl Into<String>) -> PortError {
    PortError::Invalid {
        spec: spec.into(),
        reason: reason.into(),
    }
}

/// `8000` or `8000-8003` → the inclusive range.
fn port_range(spec: &str, text: &str, what: &str) -> Result<(u16, u16), PortError> {
    let parse = |t: &str| -> Result<u16, PortError> {
        t.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid(spec, format!("invalid {what} `{t}` (a port is 1-65535)")))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                return Err(invalid(spec, format!("invalid {what} range `{text}`")));
            }
            Ok((a, b))
        }
        None => parse(text).map(|p| (p, p)),
    }
}

/// Parses one `-p` value into one mapping per port of its range.
pub fn parse(spec: &str) -> Result<Vec<PortMapping>, PortError> {
    let (addr_ports, proto) = match spec.rsplit_once('/') {
        Some((rest, "tcp")) => (rest, Proto::Tcp),
        Some((rest, "udp")) => (rest, Proto::Udp),
        Some((_, other)) => {
            return Err(invalid(
                spec,
                format!("unsupported protocol `{other}` (tcp or udp)"),
            ))
        }
        None => (spec, Proto::Tcp),
    };
    // A bracketed IPv6 address comes first; otherwise split on ':' from the right.
    let (ip_text, rest) = if let Some(after) = addr_ports.strip_prefix('[') {
        let (ip, rest) = after
            .split_once(']')
            .ok_or_else(|| invalid(spec, "an IPv6 address needs its closing `]`"))?;
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| invalid(spec, "expected `:` after the IPv6 address"))?;
        (Some(ip), rest)
    } else {
        (None, addr_ports)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip_text, host, container) = match (ip_text, parts.as_slice()) {
        (None, [c]) => (None, "", *c),
        (None, [h, c]) => (None, *h, *c),
        (None, [ip, h, c]) => (Some(*ip), *h, *c),
        (Some(ip), [h, c]) => (Some(ip), *h, *c),
        _ => {
            return Err(invalid(
                spec,
                "expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]",
            ))
        }
    };
    let host_ip = match ip_text {
        None | Some("") => None,
        Some(t) => Some(
            t.parse::<IpAddr>()
                .map_err(|_| invalid(spec, format!("invalid IP address `{t}`")))?,
        ),
    };
    let (c_start, c_end) = port_range(spec, container, "container port")?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(port_range(spec, host, "host port")?)
    };
    let count = c_end - c_start;
    if let Some((h_start, h_end)) = host_range {
        if h_end - h_start != count && h_start != h_end {
            return Err(invalid(
                spec,
                "the host and container port ranges differ in size",
            ));
        }
    }
    Ok((0..=count)
        .map(|i| PortMapping {
            host_ip,
            host_port: match host_range {
                None => 0,
                // One host port for a container range: it goes to the first, free ports to
                // the rest.
                Some((h, e)) if h == e && i == 0 => h,
                Some((h, e)) if h == e => 0,
                Some((h, _)) => h + i,
            },
            container_port: c_start + i,
            proto,
        })
        .collect())
}

/// `-P`: every port the image EXPOSEs (`8000/tcp`, `53/udp`, `80`), on free host ports.
pub fn from_exposed<'a>(
    exposed: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<PortMapping>, PortError> {
    let mut out = Vec::new();
    for e in exposed {
        out.extend(parse(e)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortMapping {
        let v = parse(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v[0]
    }

    #[test]
    fn forms() {
        let m = one("8080:80");
        assert_eq!(
            (m.host_ip, m.host_port, m.container_port, m.proto),
            (None, 8080, 80, Proto::Tcp)
        );
        let m = one("80");
        assert_eq!((m.host_port, m.container_port), (0, 80));
        let m = one("127.0.0.1:5000:5000/udp");
        assert_eq!(m.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(m.proto, Proto::Udp);
        let m = one("127.0.0.1::5000");
        assert_eq!((m.host_port, m.container_port), (0, 5000));
        let m = one("[::1]:8080:80");
        assert_eq!(m.host_ip, Some("::1".parse().unwrap()));
        assert_eq!(m.to_string(), "80/tcp -> [::1]:8080");
        assert_eq!(one("8080:80").to_string(), "80/tcp -> 0.0.0.0:8080");
    }

    #[test]
    fn ranges() {
        let v = parse("8000-8002:9000-9002").unwrap();
        let pairs: Vec<(u16, u16)> = v.iter().map(|m| (m.host_port, m.container_port)).collect();
        assert_eq!(pairs, [(8000, 9000), (8001, 9001), (8002, 9002)]);
        let v = parse("9000-9001").unwrap();
        assert!(v.iter().all(|m| m.host_port == 0));
        assert!(parse("8000-8001:9000-9003").is_err());
        assert!(parse("9003-9000").is_err());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = |s: &str| parse(s).unwrap_err().to_string();
        assert!(err("abc").contains("invalid container port `abc`"));
        assert!(err("0").contains("1-65535"));
        assert!(err("70000:80").contains("invalid host port `70000`"));
        assert!(err("80/sctp").contains("unsupported protocol `sctp`"));
        assert!(err("1.2.3:80:80").contains("invalid IP address `1.2.3`"));
        assert!(err("a:b:c:d").contains("expected [IP:]"));
        assert!(err("[::1:80:80").contains("closing `]`"));
    }

    #[test]
    fn exposed_ports() {
        let v = from_exposed(["8000/tcp", "53/udp"]).unwrap();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|m| m.host_port == 0));
        assert_eq!(v[1].proto, Proto::Udp);
    }
}
