//! CAA records read straight from the answer bytes.
//!
//! hickory refuses a whole message when one CAA tag breaks RFC 8659's syntax (a hyphen, more
//! than 15 characters), while CAs built on other DNS libraries read such a record and treat
//! it as an unknown property. To report what the CA sees, certdx reads CAA rdata itself.

use std::fmt;

/// One CAA record as it came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCaa {
    /// The owner name (after CNAMEs, the target's name).
    pub owner: String,
    /// The flags octet.
    pub flags: u8,
    /// The property tag bytes.
    pub tag: Vec<u8>,
    /// The property value bytes.
    pub value: Vec<u8>,
}

impl RawCaa {
    /// The tag as text (lossy), as written in zone files.
    pub fn tag_text(&self) -> String {
        String::from_utf8_lossy(&self.tag).into_owned()
    }

    /// Why the tag breaks RFC 8659 section 4.1 (1 to 15 ASCII letters and digits), if it does.
    pub fn tag_problem(&self) -> Option<String> {
        if self.tag.is_empty() {
            return Some("the tag is empty".to_owned());
        }
        if self.tag.len() > 15 {
            return Some(format!(
                "the tag {:?} is longer than 15 characters",
                self.tag_text()
            ));
        }
        if !self.tag.iter().all(u8::is_ascii_alphanumeric) {
            return Some(format!(
                "the tag {:?} contains characters other than letters and digits",
                self.tag_text()
            ));
        }
        None
    }

    /// Whether the record claims to be critical. Bit 128 is the critical flag; like Let's
    /// Encrypt, bit 1 counts too, because many zone authors set it believing it is the one.
    pub fn is_critical(&self) -> bool {
        self.flags & (128 | 1) != 0
    }
}

impl fmt::Display for RawCaa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:?}",
            self.flags,
            self.tag_text(),
            String::from_utf8_lossy(&self.value)
        )
    }
}

/// The CAA records in the answer section of a raw DNS message.
pub fn caa_records(msg: &[u8]) -> Result<Vec<RawCaa>, String> {
    let mut r = Reader { msg, pos: 12 };
    if msg.len() < 12 {
        return Err("the answer is shorter than a DNS header".to_owned());
    }
    let questions = u16::from_be_bytes([msg[4], msg[5]]);
    let answers = u16::from_be_bytes([msg[6], msg[7]]);
    for _ in 0..questions {
        r.name()?;
        r.take(4)?;
    }
    let mut records = Vec::new();
    for _ in 0..answers {
        let owner = r.name()?;
        let fixed = r.take(10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rdata = r.take(rdlen)?;
        if rtype != 257 {
            continue;
        }
        if rdata.len() < 2 || usize::from(rdata[1]) > rdata.len() - 2 {
            return Err(format!(
                "the CAA record of {owner} is truncated ({rdlen} octets)"
            ));
        }
        let tag_end = 2 + usize::from(rdata[1]);
        records.push(RawCaa {
            owner,
            flags: rdata[0],
            tag: rdata[2..tag_end].to_vec(),
            value: rdata[tag_end..].to_vec(),
        });
    }
    Ok(records)
}

struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.msg.len());
        let end = end.ok_or_else(|| "the answer ends in the middle of a record".to_owned())?;
        let slice = &self.msg[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// Reads a possibly compressed name at the cursor and returns it as presentation text.
    fn name(&mut self) -> Result<String, String> {
        let mut labels: Vec<String> = Vec::new();
        let mut at = self.pos;
        let mut jumped = false;
        // Each pointer must go backwards, so a chain of them ends; the count is a backstop.
        for _ in 0..256 {
            let len = *self.msg.get(at).ok_or("a name runs past the end")?;
            match len {
                0 => {
                    if !jumped {
                        self.pos = at + 1;
                    }
                    let name = labels.join(".");
                    return Ok(format!("{name}."));
                }
                l if l & 0xc0 == 0xc0 => {
                    let low = *self
                        .msg
                        .get(at + 1)
                        .ok_or("a name pointer runs past the end")?;
                    let target = usize::from(u16::from_be_bytes([l & 0x3f, low]));
                    if target >= at {
                        return Err("a name pointer points forward".to_owned());
                    }
                    if !jumped {
                        self.pos = at + 2;
                        jumped = true;
                    }
                    at = target;
                }
                l if l & 0xc0 == 0 => {
                    let start = at + 1;
                    let end = start + usize::from(l);
                    let label = self
                        .msg
                        .get(start..end)
                        .ok_or("a label runs past the end")?;
                    labels.push(escape_label(label));
                    at = end;
                }
                _ => return Err("a name uses an unknown label type".to_owned()),
            }
        }
        Err("a name has too many labels or pointers".to_owned())
    }
}

fn escape_label(label: &[u8]) -> String {
    let mut out = String::new();
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `ex.test CAA` with one answer using a compression pointer to the question.
    fn response(tag: &[u8], value: &[u8]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x02ex\x04test\x00");
        m.extend_from_slice(&[1, 1, 0, 1]);
        m.extend_from_slice(&[0xc0, 12, 1, 1, 0, 1, 0, 0, 0, 60]);
        let rdlen = (2 + tag.len() + value.len()) as u16;
        m.extend_from_slice(&rdlen.to_be_bytes());
        m.push(128);
        m.push(tag.len() as u8);
        m.extend_from_slice(tag);
        m.extend_from_slice(value);
        m
    }

    #[test]
    fn reads_records_hickory_rejects() {
        let records = caa_records(&response(b"issue-x", b"abc")).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].owner, "ex.test.");
        assert_eq!(records[0].tag_text(), "issue-x");
        assert!(records[0].tag_problem().is_some());
        assert!(records[0].is_critical());
        assert_eq!(records[0].to_string(), "128 issue-x \"abc\"");
    }

    #[test]
    fn rejects_truncated_and_looping_messages() {
        let mut m = response(b"issue", b"letsencrypt.org");
        m.truncate(m.len() - 20);
        assert!(caa_records(&m).is_err());
        let mut looped = vec![0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        looped.extend_from_slice(&[0xc0, 12]);
        assert!(caa_records(&looped).is_err());
        assert!(caa_records(&[0; 5]).is_err());
    }
}
