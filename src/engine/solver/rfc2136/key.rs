//! [`TsigKey`]: a TSIG key (name, algorithm, secret) read from a key file that only its owner
//! can read. The secret is never printed: not by `Debug`, not in any error.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use hickory_proto::rr::TSigner;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm as HickoryAlgorithm;

use super::keyfile::{RawKey, parse_keys};

/// How far apart our clock and the server's may be (RFC 8945 recommends 300 s).
pub const FUDGE_SECS: u16 = 300;
/// Key files are a few hundred bytes; anything far larger is the wrong file.
const MAX_KEY_FILE: u64 = 64 * 1024;
/// The shortest secret accepted: RFC 8945 section 6 asks for at least half the hash length,
/// and shorter ones are typos.
const MIN_SECRET_BYTES: usize = 16;

/// The TSIG MAC algorithms certdx signs with: the HMAC-SHA2 family that every current server
/// supports. HMAC-MD5 and HMAC-SHA1 are refused (deprecated by RFC 8945, and hickory does not
/// implement them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigAlgorithm {
    /// `hmac-sha256`, the default of `tsig-keygen` and `keymgr`.
    HmacSha256,
    /// `hmac-sha384`.
    HmacSha384,
    /// `hmac-sha512`.
    HmacSha512,
}

impl TsigAlgorithm {
    /// Parses a key file's algorithm name (`hmac-sha256`, case and a trailing dot ignored).
    pub fn from_name(name: &str) -> Option<TsigAlgorithm> {
        match name
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .as_str()
        {
            "hmac-sha256" => Some(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Some(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Some(TsigAlgorithm::HmacSha512),
            _ => None,
        }
    }

    /// The algorithm's name as key files and TSIG records spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn to_hickory(self) -> HickoryAlgorithm {
        match self {
            TsigAlgorithm::HmacSha256 => HickoryAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => HickoryAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => HickoryAlgorithm::HmacSha512,
        }
    }
}

impl fmt::Display for TsigAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a TSIG key could not be had. No variant carries the secret or the file's text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TsigKeyError {
    /// The file could not be read.
    #[error("cannot read TSIG key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file is readable or writable by group or others. certdx refuses it, as ssh refuses
    /// a private key: whoever reads a TSIG secret can rewrite the zone.
    #[error(
        "TSIG key file {path} is accessible to group or others (mode {mode:04o}); \
         whoever reads it can change the zone: run `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a key file certdx understands.
    #[error("{path}: {reason}", path = path.as_ref().map_or_else(|| "TSIG key".to_owned(), |p| p.display().to_string()))]
    Format {
        /// The file, when the key came from one.
        path: Option<PathBuf>,
        /// What is wrong (a line number at most, never file content).
        reason: String,
    },
    /// The file holds more than one key and certdx would have to guess.
    #[error(
        "{path} holds {count} keys; give certdx a file with only the key allowed to update the zone",
        path = path.as_ref().map_or_else(|| "the TSIG key text".to_owned(), |p| p.display().to_string())
    )]
    SeveralKeys {
        /// The file, when the key came from one.
        path: Option<PathBuf>,
        /// How many keys it holds.
        count: usize,
    },
    /// An algorithm certdx does not sign with.
    #[error(
        "{at}: {algorithm} is not supported; use hmac-sha256, hmac-sha384 or hmac-sha512 \
         (e.g. `tsig-keygen -a hmac-sha256 NAME` or `keymgr -t NAME hmac-sha256`)"
    )]
    UnsupportedAlgorithm {
        /// Where the key is.
        at: KeyOrigin,
        /// The algorithm when it is one certdx knows by name (never the text as written).
        algorithm: AlgorithmSeen,
    },
    /// The key's name is not a DNS name.
    #[error(
        "{at}: the key's name is not a DNS name (labels of letters, digits and hyphens, at most \
         63 bytes each); is the secret where the name should be?"
    )]
    InvalidName {
        /// Where the key is.
        at: KeyOrigin,
    },
    /// The secret is not base64, or too short to be a real key.
    #[error("{at}: the secret is unusable: {reason}")]
    BadSecret {
        /// Where the key is.
        at: KeyOrigin,
        /// What is wrong with it (never the secret itself).
        reason: String,
    },
}

/// Where a key came from, as errors name it: the file and the line, never a field's value (a
/// file written with name and secret swapped has the secret where the name should be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigin {
    /// The file, when the key came from one.
    pub path: Option<PathBuf>,
    /// The line the key starts on, when it came from text.
    pub line: Option<usize>,
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(p), Some(l)) => write!(f, "TSIG key on line {l} of {}", p.display()),
            (Some(p), None) => write!(f, "TSIG key in {}", p.display()),
            (None, Some(l)) => write!(f, "TSIG key on line {l} of the key text"),
            (None, None) => f.write_str("TSIG key"),
        }
    }
}

/// An algorithm a key names, as an error may show it: a name from certdx's own list (the
/// deprecated ones users still have), or only that it is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorithmSeen {
    /// A TSIG algorithm certdx knows but does not sign with (`hmac-md5`, `hmac-sha1`, ...).
    Known(&'static str),
    /// Something else: not quoted, since it could be anything from the file.
    Unknown,
}

impl AlgorithmSeen {
    /// Names certdx may quote back: RFC 8945's table and what BIND and knot accept.
    const NAMES: &'static [&'static str] = &[
        "hmac-md5",
        "hmac-md5.sig-alg.reg.int",
        "hmac-sha1",
        "hmac-sha224",
        "hmac-sha256-128",
        "hmac-sha384-192",
        "hmac-sha512-256",
        "gss-tsig",
    ];

    fn of(written: &str) -> AlgorithmSeen {
        let w = written.trim().trim_end_matches('.').to_ascii_lowercase();
        AlgorithmSeen::NAMES
            .iter()
            .find(|n| **n == w)
            .map_or(AlgorithmSeen::Unknown, |n| AlgorithmSeen::Known(n))
    }
}

impl fmt::Display for AlgorithmSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlgorithmSeen::Known(n) => write!(f, "algorithm {n}"),
            AlgorithmSeen::Unknown => f.write_str("its algorithm is not a TSIG algorithm and"),
        }
    }
}

/// A TSIG key: its name (which the server must know by the same name), algorithm and secret.
#[derive(Clone)]
pub struct TsigKey {
    name: Name,
    algorithm: TsigAlgorithm,
    signer: TSigner,
}

impl TsigKey {
    /// A key from its parts. `secret` is the raw key (not base64).
    pub fn new(
        name: &str,
        algorithm: TsigAlgorithm,
        secret: Vec<u8>,
    ) -> Result<TsigKey, TsigKeyError> {
        let at = KeyOrigin {
            path: None,
            line: None,
        };
        TsigKey::new_at(name, algorithm, secret, &at)
    }

    fn new_at(
        name: &str,
        algorithm: TsigAlgorithm,
        secret: Vec<u8>,
        at: &KeyOrigin,
    ) -> Result<TsigKey, TsigKeyError> {
        let invalid = || TsigKeyError::InvalidName { at: at.clone() };
        let mut parsed = Name::from_ascii(name.trim()).map_err(|_| invalid())?;
        if parsed.is_root() {
            return Err(invalid());
        }
        parsed.set_fqdn(true);
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TsigKeyError::BadSecret {
                at: at.clone(),
                reason: format!(
                    "{} bytes, fewer than the {MIN_SECRET_BYTES} any real key has",
                    secret.len()
                ),
            });
        }
        let signer = TSigner::new(secret, algorithm.to_hickory(), parsed.clone(), FUDGE_SECS)
            .map_err(|_| TsigKeyError::UnsupportedAlgorithm {
                at: at.clone(),
                algorithm: AlgorithmSeen::of(algorithm.as_str()),
            })?;
        Ok(TsigKey {
            name: parsed,
            algorithm,
            signer,
        })
    }

    /// Reads the only key in `path` (BIND, knot or `algorithm:name:secret` format, see
    /// `keyfile`). Refuses a file that group or others may read or write.
    pub fn from_file(path: impl AsRef<Path>) -> Result<TsigKey, TsigKeyError> {
        let path = path.as_ref();
        let read_err = |source| TsigKeyError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        check_mode(path, &meta)?;
        if meta.len() > MAX_KEY_FILE {
            return Err(TsigKeyError::Format {
                path: Some(path.to_owned()),
                reason: format!("{} bytes is too large for a key file", meta.len()),
            });
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(read_err)?;
        TsigKey::parse_in(&text, Some(path))
    }

    /// Parses the only key in `text` (any format `from_file` reads), without the file checks:
    /// for keys that come from elsewhere (an environment variable, a secret store).
    pub fn parse(text: &str) -> Result<TsigKey, TsigKeyError> {
        TsigKey::parse_in(text, None)
    }

    fn parse_in(text: &str, path: Option<&Path>) -> Result<TsigKey, TsigKeyError> {
        let mut keys = parse_keys(text).map_err(|reason| TsigKeyError::Format {
            path: path.map(Path::to_owned),
            reason,
        })?;
        let raw = match keys.len() {
            1 => keys.remove(0),
            0 => {
                return Err(TsigKeyError::Format {
                    path: path.map(Path::to_owned),
                    reason: "no TSIG key in it".to_owned(),
                });
            }
            count => {
                return Err(TsigKeyError::SeveralKeys {
                    path: path.map(Path::to_owned),
                    count,
                });
            }
        };
        TsigKey::from_raw(raw, path)
    }

    fn from_raw(raw: RawKey, path: Option<&Path>) -> Result<TsigKey, TsigKeyError> {
        let at = KeyOrigin {
            path: path.map(Path::to_owned),
            line: Some(raw.line),
        };
        // `kdig -y name:secret` and knot default to hmac-sha256 when no algorithm is given.
        let algorithm_name = raw.algorithm.as_deref().unwrap_or("hmac-sha256");
        let algorithm = TsigAlgorithm::from_name(algorithm_name).ok_or_else(|| {
            TsigKeyError::UnsupportedAlgorithm {
                at: at.clone(),
                algorithm: AlgorithmSeen::of(algorithm_name),
            }
        })?;
        let secret = decode_secret(&raw.secret).map_err(|reason| TsigKeyError::BadSecret {
            at: at.clone(),
            reason,
        })?;
        TsigKey::new_at(&raw.name, algorithm, secret, &at)
    }

    /// The key's name, fully qualified.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The MAC algorithm.
    pub fn algorithm(&self) -> TsigAlgorithm {
        self.algorithm
    }

    /// hickory's signer for this key.
    pub(super) fn signer(&self) -> &TSigner {
        &self.signer
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name.to_string())
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Decodes a base64 secret as key files write it: standard alphabet, padding optional,
/// whitespace allowed (BIND splits long secrets). The reason never quotes the text or a byte
/// of it.
fn decode_secret(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    LENIENT.decode(compact.as_bytes()).map_err(|e| {
        let why = match e {
            base64::DecodeError::InvalidByte(at, _) => {
                format!("a character that is not base64 at position {}", at + 1)
            }
            base64::DecodeError::InvalidLength(_) => "a length no base64 text has".to_owned(),
            base64::DecodeError::InvalidLastSymbol(..) => {
                "its last character encodes bits no key has".to_owned()
            }
            base64::DecodeError::InvalidPadding => "misplaced '=' padding".to_owned(),
        };
        format!("not base64 ({why})")
    })
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), TsigKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(TsigKeyError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), TsigKeyError> {
    // No mode bits to check; ACLs are the platform's business.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "iA+ZtUh5pM+RSa5lCQBO8i1LdNc8WNyCvu0QejQ7z78=";

    #[test]
    fn parses_and_hides_the_secret() {
        let k = TsigKey::parse(&format!("hmac-sha512:Certdx.Key:{SECRET}")).unwrap();
        assert_eq!(k.name().to_string(), "Certdx.Key.");
        assert_eq!(k.algorithm(), TsigAlgorithm::HmacSha512);
        let debug = format!("{k:?}");
        assert!(!debug.contains(&SECRET[..12]), "{debug}");
        assert_eq!(k.signer().key().len(), 32);
    }

    #[test]
    fn refuses_weak_algorithms_bad_secrets_and_several_keys() {
        let md5 = TsigKey::parse(&format!("hmac-md5:k:{SECRET}")).unwrap_err();
        assert!(
            matches!(md5, TsigKeyError::UnsupportedAlgorithm { .. }),
            "{md5}"
        );
        assert!(md5.to_string().contains("hmac-md5"), "{md5}");
        assert_eq!(
            decode_secret("aGVs bG8g\nd29y bGQ").unwrap(),
            b"hello world".to_vec()
        );
        let bad = TsigKey::parse("k:not*base64").unwrap_err();
        assert!(matches!(bad, TsigKeyError::BadSecret { .. }), "{bad}");
        assert!(!bad.to_string().contains("not*base64"));
        let short = TsigKey::parse("k:c2hvcnQ=").unwrap_err();
        assert!(matches!(short, TsigKeyError::BadSecret { .. }), "{short}");
        let two = format!(
            "key a {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\nkey b {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};"
        );
        assert!(matches!(
            TsigKey::parse(&two),
            Err(TsigKeyError::SeveralKeys { count: 2, .. })
        ));
        assert!(matches!(
            TsigKey::parse("# nothing\n"),
            Err(TsigKeyError::Format { .. })
        ));
    }

    /// A file written with name and secret swapped: the error names the file and the line,
    /// never the name (which is the secret).
    #[test]
    fn a_swapped_key_file_keeps_the_secret_out_of_the_error() {
        let dir = std::env::temp_dir().join(format!("certdx-tsig-swap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("swapped.key");
        let text = format!(
            "# written by hand\nkey \"{SECRET}\" {{\n  algorithm hmac-sha256;\n  secret \"certdx-key\";\n}};\n"
        );
        std::fs::write(&path, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = TsigKey::from_file(&path).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!err.contains(&SECRET[..8]), "{err}");
        assert!(
            err.contains("line 2") && err.contains("swapped.key"),
            "{err}"
        );
        let swapped_one_line = TsigKey::parse(&format!("hmac-sha256:{SECRET}:certdx-key"))
            .unwrap_err()
            .to_string();
        assert!(
            !swapped_one_line.contains(&SECRET[..8]),
            "{swapped_one_line}"
        );
        let odd_algorithm = TsigKey::parse(&format!("{SECRET}:k:{SECRET}"))
            .unwrap_err()
            .to_string();
        assert!(!odd_algorithm.contains(&SECRET[..8]), "{odd_algorithm}");
    }
}
