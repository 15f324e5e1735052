//! The embedded DNS resolver's message handling (pure): read the question of a query, and
//! write an answer with A records, an empty answer, or an error. Everything it does not know
//! is forwarded upstream as the raw packet, so only the question section needs parsing; the
//! format is RFC 1035 §4.

use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
/// Answers carry a TTL of 0: containers come and go, and a name may move to another address.
const TTL: u32 = 0;

pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;

/// The question of a standard query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    /// Lowercase, without the trailing dot.
    pub name: String,
    pub qtype: u16,
    /// Where the question section ends in the packet.
    end: usize,
}

/// Reads a query with exactly one question; anything else (responses, other opcodes,
/// compressed or truncated names) is `None`.
pub fn parse_query(packet: &[u8]) -> Option<Question> {
    if packet.len() < 12 {
        return None;
    }
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let qdcount = u16::from_be_bytes([packet[4], packet[5]]);
    if is_response || opcode != 0 || qdcount != 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = packet.get(at..at + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    packet.get(at + 2..at + 4)?;
    Some(Question {
        id: u16::from_be_bytes([packet[0], packet[1]]),
        name: labels.join("."),
        qtype,
        end: at + 4,
    })
}

/// A response to `query` with its question and one A record per address (none for other
/// types: the name exists, it has no records of that type).
pub fn answer(query: &[u8], question: &Question, addrs: &[Ipv4Addr]) -> Vec<u8> {
    let addrs = if question.qtype == TYPE_A { addrs } else { &[] };
    let mut out = header(query, 0, addrs.len() as u16);
    out.extend_from_slice(&query[12..question.end]);
    for ip in addrs {
        out.extend_from_slice(&[0xc0, 12]); // the name: a pointer to the question's
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // class IN
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// A response with no answers and `rcode` (NXDOMAIN, SERVFAIL).
pub fn error(query: &[u8], question: &Question, rcode: u8) -> Vec<u8> {
    let mut out = header(query, rcode, 0);
    out.extend_from_slice(&query[12..question.end]);
    out
}

fn header(query: &[u8], rcode: u8, ancount: u16) -> Vec<u8> {
    let rd = query[2] & 0x01;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]);
    out.push(0x80 | (query[2] & 0x78) | 0x04 | rd); // QR, opcode, AA, RD
    out.push(0x80 | (rcode & 0x0f)); // RA, RCODE
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ancount.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

/// The id of a message (to match forwarded queries with their answers).
pub fn id(packet: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.first()?, *packet.get(1)?]))
}

/// `packet` with its id replaced.
pub fn with_id(packet: &[u8], id: u16) -> Vec<u8> {
    let mut out = packet.to_vec();
    if out.len() >= 2 {
        out[..2].copy_from_slice(&id.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query as `dig web A` sends it (id 0x1234, RD).
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    #[test]
    fn answers_a_queries() {
        let q = query("Web.Local", TYPE_A);
        let question = parse_query(&q).unwrap();
        assert_eq!((question.id, question.name.as_str()), (0x1234, "web.local"));
        let r = answer(&q, &question, &[Ipv4Addr::new(10, 89, 0, 2)]);
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[2] & 0x80, 0x80, "a response");
        assert_eq!(r[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1, "one answer");
        assert_eq!(&r[r.len() - 4..], &[10, 89, 0, 2]);
        assert_eq!(&r[12..q.len()], &q[12..], "the question is echoed");
    }

    #[test]
    fn other_types_get_no_records_and_errors_keep_the_question() {
        let q = query("web", 28);
        let question = parse_query(&q).unwrap();
        let r = answer(&q, &question, &[Ipv4Addr::new(10, 89, 0, 2)]);
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 0);
        let e = error(&q, &question, RCODE_NXDOMAIN);
        assert_eq!(e[3] & 0x0f, 3);
        assert_eq!(e.len(), q.len());
        assert_eq!(id(&with_id(&q, 7)), Some(7));
    }

    #[test]
    fn rejects_what_is_not_a_plain_query() {
        assert!(parse_query(&[0; 5]).is_none());
        let mut response = query("web", TYPE_A);
        response[2] |= 0x80;
        assert!(parse_query(&response).is_none());
        let mut truncated = query("web", TYPE_A);
        truncated.truncate(15);
        assert!(parse_query(&truncated).is_none());
    }
}
