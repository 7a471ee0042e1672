//! Canonical MessagePack for the structured parts of persisted records.
//!
//! Structures are encoded as MessagePack arrays in a fixed field order with
//! the shortest integer, string, binary and array forms (rmp-serde's output).
//! A decoder accepts a byte string only if re-encoding the decoded value gives
//! exactly the same bytes, so every value has one encoding and hashes or MACs
//! over it are stable across implementations.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a structured part could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodecError {
    /// The bytes are not MessagePack of the expected shape.
    Malformed,
    /// The bytes decode, but are not the canonical encoding of the value.
    NonCanonical,
}

/// Encode `value` canonically.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own plain structs into a Vec cannot fail: they contain
    // no maps with non-string keys and no unsupported types.
    rmp_serde::to_vec(value).unwrap_or_default()
}

/// Decode `bytes` as exactly one canonical value of type `T`.
pub(crate) fn decode_canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, CodecError> {
    let value: T = rmp_serde::from_slice(bytes).map_err(|_| CodecError::Malformed)?;
    if encode(&value) != bytes {
        return Err(CodecError::NonCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Pair(u64, String);

    #[test]
    fn round_trip_and_canonical_check() {
        let bytes = encode(&Pair(5, "x".into()));
        assert_eq!(bytes, [0x92, 0x05, 0xa1, b'x']);
        assert_eq!(decode_canonical::<Pair>(&bytes), Ok(Pair(5, "x".into())));
        // 5 as uint8 (0xcc 0x05) is valid MessagePack but not the shortest form.
        assert_eq!(
            decode_canonical::<Pair>(&[0x92, 0xcc, 0x05, 0xa1, b'x']),
            Err(CodecError::NonCanonical)
        );
        // Trailing bytes change the re-encoding and are rejected.
        assert!(decode_canonical::<Pair>(&[0x92, 0x05, 0xa1, b'x', 0x00]).is_err());
        assert_eq!(
            decode_canonical::<Pair>(&[0x92, 0x05]),
            Err(CodecError::Malformed)
        );
    }
}
