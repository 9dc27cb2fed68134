//! Tests of keypairs and signatures, beside the module they test.

use super::canonical::tests::run_tool;
use super::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn solana_json(bytes: &[u8]) -> String {
    let numbers: Vec<String> = bytes.iter().map(u8::to_string).collect();
    format!("[{}]", numbers.join(","))
}

/// RFC 8032 section 7.1, tests 1 and 2: (seed, public key, message, signature).
const RFC8032: [(&str, &str, &str, &str); 2] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];

#[test]
fn rfc8032_vectors_via_solana_json() {
    for (seed, public, message, signature) in RFC8032 {
        let bytes = [hex(seed), hex(public)].concat();
        let text = solana_json(&bytes);
        let keypair = Keypair::from_solana_json(&text).unwrap();
        assert_eq!(keypair.to_solana_json(), text);
        assert_eq!(
            keypair.public_key_base58(),
            bs58::encode(hex(public)).into_string()
        );
        let message = hex(message);
        assert_eq!(to_hex(&keypair.sign_detached(&message)), signature);
        let signed = bs58::decode(keypair.sign_koii(&message))
            .into_vec()
            .unwrap();
        assert_eq!(signed, [hex(signature), message].concat());
    }
}

#[test]
fn load_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let load = |path: &Path| Keypair::from_file(path).unwrap_err();

    let missing = dir.path().join("missing.json");
    let err = load(&missing);
    assert!(matches!(err, KeyError::Read { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let path = write("garbage.json", "[1, 2,\n  3 x]");
    let err = load(&path);
    assert!(
        matches!(
            err,
            KeyError::NotJson {
                line: 2,
                column: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("line 2, column 5"), "{message}");

    let err = load(&write("object.json", "{\"secretKey\": [1, 2]}"));
    assert!(err.to_string().contains("but it is an object"), "{err}");

    let err = load(&write("short.json", &solana_json(&[7; 63])));
    assert!(
        matches!(err, KeyError::WrongLength { len: 63, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("has 63 elements"), "{err}");

    let good = Keypair::generate().unwrap().to_solana_json();
    for (bad, shown) in [
        ("256", "256"),
        ("-1", "-1"),
        ("1.5", "1.5"),
        ("\"7\"", "\"7\""),
        ("null", "null"),
    ] {
        let mut items: Vec<&str> = good[1..good.len() - 1].split(',').collect();
        items[5] = bad;
        let err = Keypair::from_solana_json(&format!("[{}]", items.join(","))).unwrap_err();
        assert!(
            matches!(&err, KeyError::BadByte { index: 5, value, path: None } if value == shown),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&format!("element 5 is {shown}")),
            "{err}"
        );
    }

    // Seed of one key with the public half of another.
    let a = Keypair::generate().unwrap().to_solana_json();
    let b = Keypair::generate().unwrap().to_solana_json();
    let a_items: Vec<&str> = a[1..a.len() - 1].split(',').collect();
    let b_items: Vec<&str> = b[1..b.len() - 1].split(',').collect();
    let stitched = format!("[{},{}]", a_items[..32].join(","), b_items[32..].join(","));
    let path = write("stitched.json", &stitched);
    let err = load(&path);
    assert!(matches!(err, KeyError::PublicKeyMismatch { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let b_public = Keypair::from_solana_json(&b).unwrap().public_key_base58();
    assert!(err.to_string().contains(&b_public), "{err}");
}

#[test]
fn debug_shows_only_the_public_key() {
    let keypair = Keypair::generate().unwrap();
    let expected = format!(
        "Keypair {{ public_key: {:?}, .. }}",
        keypair.public_key_base58()
    );
    assert_eq!(format!("{keypair:?}"), expected);
    let pretty = format!("{keypair:#?}");
    let seed = keypair.key.as_bytes();
    for secret in [
        to_hex(seed),
        bs58::encode(seed).into_string(),
        solana_json(seed),
    ] {
        assert!(!pretty.contains(&secret[..secret.len() - 1]), "{pretty}");
    }
}

#[test]
fn sign_and_open_round_trip() {
    let keypair = Keypair::generate().unwrap();
    let public = keypair.public_key_base58();
    for message in [
        &b""[..],
        b"x",
        "{\"price\": 1.5, \"who\": \"\u{e9}\"}".as_bytes(),
        &[0u8; 1000],
    ] {
        let signed = keypair.sign_koii(message);
        assert_eq!(open_koii(&signed, &public).unwrap(), message);
        let raw = bs58::decode(&signed).into_vec().unwrap();
        assert_eq!(raw[..64], keypair.sign_detached(message));
    }
}

#[test]
fn tampering_and_bad_inputs_are_rejected() {
    let keypair = Keypair::generate().unwrap();
    let public = keypair.public_key_base58();
    let signed = bs58::decode(keypair.sign_koii(b"submission round 7"))
        .into_vec()
        .unwrap();
    for flip in [0, 31, 63, 64, signed.len() - 1] {
        let mut tampered = signed.clone();
        tampered[flip] ^= 0x01;
        let err = open_koii(&bs58::encode(&tampered).into_string(), &public).unwrap_err();
        assert!(
            matches!(err, VerifyError::BadSignature { .. }),
            "byte {flip}: {err:?}"
        );
    }
    let truncated = bs58::encode(&signed[..signed.len() - 1]).into_string();
    assert!(matches!(
        open_koii(&truncated, &public),
        Err(VerifyError::BadSignature { .. })
    ));

    let other = Keypair::generate().unwrap().public_key_base58();
    let good = bs58::encode(&signed).into_string();
    let err = open_koii(&good, &other).unwrap_err();
    assert!(err.to_string().contains(&other), "{err}");

    let err = open_koii("0OIl", &public).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Base58 {
                what: "signed payload",
                ..
            }
        ),
        "{err:?}"
    );
    let err = open_koii(&good, "not base58!").unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Base58 {
                what: "public key",
                ..
            }
        ),
        "{err:?}"
    );
    let short = bs58::encode([1u8; 10]).into_string();
    assert_eq!(
        open_koii(&short, &public),
        Err(VerifyError::TooShort { len: 10 })
    );
    let short_key = bs58::encode([1u8; 31]).into_string();
    assert_eq!(
        open_koii(&good, &short_key),
        Err(VerifyError::PublicKeyLength { len: 31 })
    );
    // Some y coordinates have no curve point; find one to use as a key.
    let off_curve = (0..=255u8)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
        .unwrap();
    let off_curve = bs58::encode(off_curve).into_string();
    assert!(matches!(
        open_koii(&good, &off_curve),
        Err(VerifyError::InvalidPublicKey { .. })
    ));
}

#[test]
fn sign_json_rejects_invalid_json() {
    let keypair = Keypair::generate().unwrap();
    let err = keypair
        .sign_json("{\"a\": }", JsonStyle::Python)
        .unwrap_err();
    assert!(err.to_string().contains("line 1, column 7"), "{err}");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn write_new_keypair_creates_0600_and_refuses_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys").join("worker-1.json");
    let first = write_new_keypair(&path, false).unwrap();
    assert_eq!(
        Keypair::from_file(&path).unwrap().public_key_base58(),
        first.public_key_base58()
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        first.to_solana_json()
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    let err = write_new_keypair(&path, false).unwrap_err();
    assert!(matches!(err, KeyError::Exists { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(
        Keypair::from_file(&path).unwrap().public_key_base58(),
        first.public_key_base58()
    );

    // A forced overwrite also tightens a file that was readable by others.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let second = write_new_keypair(&path, true).unwrap();
    assert_ne!(second.public_key_base58(), first.public_key_base58());
    assert_eq!(
        Keypair::from_file(&path).unwrap().public_key_base58(),
        second.public_key_base58()
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
}

/// An independent implementation opens our payload the way Koii's
/// `nacl.sign.open(bs58.decode(signed), publicKey)` does: node decodes the
/// base58 itself, splits signature ‖ message and verifies with its own
/// ed25519 (OpenSSL).
#[test]
fn node_opens_koii_payloads() {
    const SCRIPT: &str = r#"
const crypto = require("crypto");
const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function b58decode(s) {
  let n = 0n;
  for (const c of s) {
    const i = ALPHABET.indexOf(c);
    if (i < 0) throw new Error("bad base58 character " + c);
    n = n * 58n + BigInt(i);
  }
  let hex = n === 0n ? "" : n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  let zeros = 0;
  while (zeros < s.length && s[zeros] === "1") zeros++;
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(hex, "hex")]);
}
const [signedB58, publicB58] = require("fs").readFileSync(0, "utf8").trim().split(" ");
const signed = b58decode(signedB58);
const x = b58decode(publicB58).toString("base64url");
const key = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
const message = signed.subarray(64);
const ok = crypto.verify(null, message, key, signed.subarray(0, 64));
process.stdout.write(JSON.stringify({ ok, message: message.toString("hex") }));
"#;
    let keypair = Keypair::generate().unwrap();
    for message in ["", "{\"a\":1}", "ünïcödé 😀 payload"] {
        let signed = keypair.sign_koii(message.as_bytes());
        let input = format!("{signed} {}", keypair.public_key_base58());
        let out = run_tool("node", &["-e", SCRIPT], input.as_bytes());
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            out["ok"], true,
            "node rejected the signature for {message:?}"
        );
        assert_eq!(out["message"], to_hex(message.as_bytes()));
    }
}

/// The bytes a Python task signs are what `json.dumps(..., sort_keys=True)`
/// prints; a payload we sign in Python style must open to exactly those.
#[test]
fn sign_json_matches_reference_bytes() {
    let doc = "{\"round\": 7, \"submission\": {\"z\": [1.0, 1e16, 0.1, -0], \"cid\": \"bafy…\", \
                   \"emoji\": \"😀\", \"10\": null, \"2\": true}, \"big\": 123456789012345678901234567890, \
                   \"tab\": \"a\\tb\", \"round\": 8}";
    let keypair = Keypair::generate().unwrap();
    let public = keypair.public_key_base58();
    let cases = [
            (
                JsonStyle::Python,
                "python3",
                vec!["-c", "import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.buffer.read().decode('utf-8')), sort_keys=True))"],
            ),
            (
                JsonStyle::Js,
                "node",
                vec!["-e", "process.stdout.write(JSON.stringify(JSON.parse(require('fs').readFileSync(0, 'utf8'))))"],
            ),
        ];
    for (style, program, args) in cases {
        let expected = run_tool(program, &args, doc.as_bytes());
        let signed = keypair.sign_json(doc, style).unwrap();
        let opened = open_koii(&signed, &public).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&opened),
            String::from_utf8_lossy(&expected),
            "{style:?} bytes differ from {program}"
        );
    }
}
