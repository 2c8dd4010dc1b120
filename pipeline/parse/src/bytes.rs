//! Byte scans the hot paths share, 16 bytes at a time with SSE2 (part of
//! every x86-64 CPU, so no run-time check) and a plain loop elsewhere.
//! Each returns exactly what its scalar definition (in the tests) does.

/// Whether `s` holds any of the bytes `n` (repeat one to test fewer than four).
pub fn has_byte(s: &[u8], n: [u8; 4]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let mut chunks = s.chunks_exact(16);
        // SAFETY: SSE2 is baseline on x86-64; each load reads 16 bytes of a 16-byte chunk.
        unsafe {
            let v = n.map(|x| _mm_set1_epi8(x as i8));
            for c in &mut chunks {
                let x = _mm_loadu_si128(c.as_ptr().cast());
                let m = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, v[0]), _mm_cmpeq_epi8(x, v[1])),
                    _mm_or_si128(_mm_cmpeq_epi8(x, v[2]), _mm_cmpeq_epi8(x, v[3])),
                );
                if _mm_movemask_epi8(m) != 0 {
                    return true;
                }
            }
        }
        chunks.remainder().iter().any(|b| n.contains(b))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        s.iter().any(|b| n.contains(b))
    }
}

/// Positions `i` where `s[i..i + 4]` is two ASCII capitals and two ASCII
/// digits (`[A-Z]{2}[0-9]{2}`, where an IBAN can start), ascending.
pub fn caps2_digits2(s: &[u8], out: &mut Vec<usize>) {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is baseline on x86-64; the loads read s[i + k..i + k + 16]
        // for k < 4 with i + 19 < s.len().
        unsafe {
            // `x - lo <= hi - lo` unsigned: the byte is in lo..=hi.
            let within = |x: __m128i, lo: u8, hi: u8| {
                let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
                _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((hi - lo) as i8)), d)
            };
            while i + 19 < s.len() {
                let at = |k: usize| _mm_loadu_si128(s.as_ptr().add(i + k).cast());
                let m = _mm_and_si128(
                    _mm_and_si128(within(at(0), b'A', b'Z'), within(at(1), b'A', b'Z')),
                    _mm_and_si128(within(at(2), b'0', b'9'), within(at(3), b'0', b'9')),
                );
                let mut bits = _mm_movemask_epi8(m) as u32;
                while bits != 0 {
                    out.push(i + bits.trailing_zeros() as usize);
                    bits &= bits - 1;
                }
                i += 16;
            }
        }
    }
    while i + 4 <= s.len() {
        let w = &s[i..i + 4];
        if w[3].is_ascii_digit() && w[2].is_ascii_digit() && w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase() {
            out.push(i);
        }
        i += 1;
    }
}

/// Appends the positions of `needle` in `s` (offset by `base`), ascending.
pub fn positions(s: &[u8], needle: u8, base: u32, out: &mut Vec<u32>) {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is baseline on x86-64; each load reads s[i..i + 16] with i + 16 <= s.len().
        unsafe {
            let v = _mm_set1_epi8(needle as i8);
            while i + 16 <= s.len() {
                let x = _mm_loadu_si128(s.as_ptr().add(i).cast());
                let mut bits = _mm_movemask_epi8(_mm_cmpeq_epi8(x, v)) as u32;
                while bits != 0 {
                    out.push(base + (i + bits.trailing_zeros() as usize) as u32);
                    bits &= bits - 1;
                }
                i += 16;
            }
        }
    }
    out.extend(s[i..].iter().enumerate().filter(|(_, &b)| b == needle).map(|(j, _)| base + (i + j) as u32));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_equal_their_definitions() {
        let alphabet = b"AZ09az@[/:\r\t\xc2\xe2 Q5";
        let mut state = 7u64;
        for len in 0..200 {
            for _ in 0..20 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        alphabet[(state >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                for n in [[b'\r', b'\t', 0xC2, 0xE2], [b'Q', b'Q', b'Q', b'Q']] {
                    assert_eq!(has_byte(&s, n), s.iter().any(|b| n.contains(b)));
                }
                let want: Vec<usize> = s
                    .windows(4)
                    .enumerate()
                    .filter(|(_, w)| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase() && w[2].is_ascii_digit() && w[3].is_ascii_digit())
                    .map(|(i, _)| i)
                    .collect();
                let mut got = Vec::new();
                caps2_digits2(&s, &mut got);
                assert_eq!(got, want);
                let want: Vec<u32> = s.iter().enumerate().filter(|(_, &b)| b == b'Q').map(|(i, _)| i as u32 + 3).collect();
                let mut got = Vec::new();
                positions(&s, b'Q', 3, &mut got);
                assert_eq!(got, want);
            }
        }
    }
}
