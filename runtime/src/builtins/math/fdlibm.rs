//! The transcendental functions Node computes with V8's own fdlibm-derived code, written here from
//! fdlibm's algorithms (Sun's freely distributable library, by way of FreeBSD's msun where V8 took its
//! later versions): the same argument reductions, the same polynomial coefficients and the same order
//! of floating-point operations, so every result is the double V8 computes. Rust never fuses a
//! multiply and an add, so the operations round exactly as the C code's do on x86-64.
//!
//! The differential tests in `tests.rs` compare each function with Node bit for bit.

/// The high 32 bits of a double, as fdlibm reads it.
#[inline]
pub(super) fn hi(x: f64) -> u32 {
    (x.to_bits() >> 32) as u32
}

/// The low 32 bits of a double.
#[inline]
pub(super) fn lo(x: f64) -> u32 {
    x.to_bits() as u32
}

/// A double from its high and low words.
#[inline]
pub(super) fn from_words(h: u32, l: u32) -> f64 {
    f64::from_bits(((h as u64) << 32) | l as u64)
}

/// `x` with its high word replaced.
#[inline]
pub(super) fn with_hi(x: f64, h: u32) -> f64 {
    from_words(h, lo(x))
}

/// `x` with its low word replaced.
#[inline]
pub(super) fn with_lo(x: f64, l: u32) -> f64 {
    from_words(hi(x), l)
}

const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
const LN2: f64 = f64::from_bits(0x3FE6_2E42_FEFA_39EF);
const TWO54: f64 = f64::from_bits(0x4350_0000_0000_0000);

/// e^x: x = k·ln2 + r with |r| ≤ ln2/2, e^r from a degree-5 rational approximation, scaled by 2^k.
/// V8 answers exp(1) with Math.E (the approximation would be one ulp off there).
pub fn exp(x: f64) -> f64 {
    const O_THRESHOLD: f64 = f64::from_bits(0x4086_2E42_FEFA_39EF);
    const U_THRESHOLD: f64 = f64::from_bits(0xC087_4910_D52D_3051);
    const INV_LN2: f64 = f64::from_bits(0x3FF7_1547_652B_82FE);
    const P1: f64 = f64::from_bits(0x3FC5_5555_5555_553E);
    const P2: f64 = f64::from_bits(0xBF66_C16C_16BE_BD93);
    const P3: f64 = f64::from_bits(0x3F11_566A_AF25_DE2C);
    const P4: f64 = f64::from_bits(0xBEBB_BD41_C5D2_6BF1);
    const P5: f64 = f64::from_bits(0x3E66_3769_72BE_A4D0);
    const TWO_M1000: f64 = f64::from_bits(0x0170_0000_0000_0000);
    const TWO_1023: f64 = f64::from_bits(0x7FE0_0000_0000_0000);

    let negative = x.is_sign_negative();
    let ax_hi = hi(x) & 0x7FFF_FFFF;
    if ax_hi >= 0x4086_2E42 {
        if ax_hi >= 0x7FF0_0000 {
            if x.is_nan() {
                return x + x;
            }
            return if negative { 0.0 } else { x };
        }
        if x > O_THRESHOLD {
            return f64::INFINITY;
        }
        if x < U_THRESHOLD {
            return 0.0;
        }
    }
    let (mut r, mut rlo, mut rhi, mut k) = (x, 0.0, 0.0, 0i32);
    if ax_hi > 0x3FD6_2E42 {
        if ax_hi < 0x3FF0_A2B2 {
            if x == 1.0 {
                return std::f64::consts::E;
            }
            if negative {
                rhi = x + LN2_HI;
                rlo = -LN2_LO;
                k = -1;
            } else {
                rhi = x - LN2_HI;
                rlo = LN2_LO;
                k = 1;
            }
        } else {
            k = (INV_LN2 * x + if negative { -0.5 } else { 0.5 }) as i32;
            let t = k as f64;
            rhi = x - t * LN2_HI;
            rlo = t * LN2_LO;
        }
        r = rhi - rlo;
    } else if ax_hi < 0x3E30_0000 {
        return 1.0 + x;
    }
    let t = r * r;
    let c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    if k == 0 {
        return 1.0 - ((r * c) / (c - 2.0) - r);
    }
    let y = 1.0 - ((rlo - (r * c) / (2.0 - c)) - rhi);
    if k >= -1021 {
        if k == 1024 {
            return y * 2.0 * TWO_1023;
        }
        y * from_words(0x3FF0_0000u32.wrapping_add((k as u32) << 20), 0)
    } else {
        y * from_words(0x3FF0_0000u32.wrapping_add(((k + 1000) as u32) << 20), 0) * TWO_M1000
    }
}

/// ln x: x = 2^k·(1+f) with √2/2 < 1+f < √2, then log(1+f) from s = f/(2+f) and a degree-14
/// polynomial in s, added to k·ln2 split in two parts.
pub fn log(x: f64) -> f64 {
    const LG1: f64 = f64::from_bits(0x3FE5_5555_5555_5593);
    const LG2: f64 = f64::from_bits(0x3FD9_9999_9997_FA04);
    const LG3: f64 = f64::from_bits(0x3FD2_4924_9422_9359);
    const LG4: f64 = f64::from_bits(0x3FCC_71C5_1D8E_78AF);
    const LG5: f64 = f64::from_bits(0x3FC7_4664_96CB_03DE);
    const LG6: f64 = f64::from_bits(0x3FC3_9A09_D078_C69F);
    const LG7: f64 = f64::from_bits(0x3FC2_F112_DF3E_5244);

    let mut x = x;
    let mut hx = hi(x) as i32;
    let mut k = 0i32;
    if hx < 0x0010_0000 {
        if (hx & 0x7FFF_FFFF) as u32 | lo(x) == 0 {
            return f64::NEG_INFINITY;
        }
        if hx < 0 {
            return f64::NAN;
        }
        k -= 54;
        x *= TWO54;
        hx = hi(x) as i32;
    }
    if hx >= 0x7FF0_0000 {
        return x + x;
    }
    k += (hx >> 20) - 1023;
    hx &= 0x000F_FFFF;
    let i = (hx + 0x95F64) & 0x10_0000;
    x = with_hi(x, (hx | (i ^ 0x3FF0_0000)) as u32);
    k += i >> 20;
    let f = x - 1.0;
    if (0x000F_FFFF & (2 + hx)) < 3 {
        if f == 0.0 {
            if k == 0 {
                return 0.0;
            }
            let dk = k as f64;
            return dk * LN2_HI + dk * LN2_LO;
        }
        let r = f * f * (0.5 - f64::from_bits(0x3FD5_5555_5555_5555) * f);
        if k == 0 {
            return f - r;
        }
        let dk = k as f64;
        return dk * LN2_HI - ((r - dk * LN2_LO) - f);
    }
    let s = f / (2.0 + f);
    let dk = k as f64;
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let far = ((hx - 0x6147A) | (0x6B851 - hx)) > 0;
    let r = t2 + t1;
    if far {
        let hfsq = 0.5 * f * f;
        if k == 0 {
            f - (hfsq - s * (hfsq + r))
        } else {
            dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
        }
    } else if k == 0 {
        f - s * (f - r)
    } else {
        dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f)
    }
}

/// ln(1+x), accurate near 0: 1+x = 2^k·(1+f) with a correction term for the rounding of 1+x, then the
/// same series as `log` (FreeBSD's thresholds, which V8 uses).
pub fn log1p(x: f64) -> f64 {
    const LP1: f64 = f64::from_bits(0x3FE5_5555_5555_5593);
    const LP2: f64 = f64::from_bits(0x3FD9_9999_9997_FA04);
    const LP3: f64 = f64::from_bits(0x3FD2_4924_9422_9359);
    const LP4: f64 = f64::from_bits(0x3FCC_71C5_1D8E_78AF);
    const LP5: f64 = f64::from_bits(0x3FC7_4664_96CB_03DE);
    const LP6: f64 = f64::from_bits(0x3FC3_9A09_D078_C69F);
    const LP7: f64 = f64::from_bits(0x3FC2_F112_DF3E_5244);

    let hx = hi(x) as i32;
    let ax = hx & 0x7FFF_FFFF;
    let mut k = 1i32;
    let mut f = 0.0;
    let mut hu = 0i32;
    let mut c = 0.0;
    if hx < 0x3FDA_827A {
        if ax >= 0x3FF0_0000 {
            return if x == -1.0 {
                f64::NEG_INFINITY
            } else {
                f64::NAN
            };
        }
        if ax < 0x3E20_0000 {
            if ax < 0x3C90_0000 {
                return x;
            }
            return x - x * x * 0.5;
        }
        if hx > 0 || hx <= 0xBFD2_BEC4u32 as i32 {
            k = 0;
            f = x;
            hu = 1;
        }
    }
    if hx >= 0x7FF0_0000 {
        return x + x;
    }
    if k != 0 {
        let mut u;
        if hx < 0x4340_0000 {
            u = 1.0 + x;
            hu = hi(u) as i32;
            k = (hu >> 20) - 1023;
            c = if k > 0 { 1.0 - (u - x) } else { x - (u - 1.0) };
            c /= u;
        } else {
            u = x;
            hu = hi(u) as i32;
            k = (hu >> 20) - 1023;
            c = 0.0;
        }
        hu &= 0x000F_FFFF;
        if hu < 0x6A09E {
            u = with_hi(u, (hu | 0x3FF0_0000) as u32);
        } else {
            k += 1;
            u = with_hi(u, (hu | 0x3FE0_0000) as u32);
            hu = (0x0010_0000 - hu) >> 2;
        }
        f = u - 1.0;
    }
    let hfsq = 0.5 * f * f;
    let dk = k as f64;
    if hu == 0 {
        if f == 0.0 {
            if k == 0 {
                return 0.0;
            }
            c += dk * LN2_LO;
            return dk * LN2_HI + c;
        }
        let r = hfsq * (1.0 - f64::from_bits(0x3FE5_5555_5555_5555) * f);
        if k == 0 {
            return f - r;
        }
        return dk * LN2_HI - ((r - (dk * LN2_LO + c)) - f);
    }
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (LP1 + z * (LP2 + z * (LP3 + z * (LP4 + z * (LP5 + z * (LP6 + z * LP7))))));
    if k == 0 {
        f - (hfsq - s * (hfsq + r))
    } else {
        dk * LN2_HI - ((hfsq - (s * (hfsq + r) + (dk * LN2_LO + c))) - f)
    }
}

/// log(1+f) - f for 1+f in [√2/2, √2], without the final f - f²/2 (FreeBSD's k_log1p), for log2.
fn k_log1p(f: f64) -> f64 {
    const LG1: f64 = f64::from_bits(0x3FE5_5555_5555_5593);
    const LG2: f64 = f64::from_bits(0x3FD9_9999_9997_FA04);
    const LG3: f64 = f64::from_bits(0x3FD2_4924_9422_9359);
    const LG4: f64 = f64::from_bits(0x3FCC_71C5_1D8E_78AF);
    const LG5: f64 = f64::from_bits(0x3FC7_4664_96CB_03DE);
    const LG6: f64 = f64::from_bits(0x3FC3_9A09_D078_C69F);
    const LG7: f64 = f64::from_bits(0x3FC2_F112_DF3E_5244);
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    s * (hfsq + r)
}

/// log2 x (FreeBSD's e_log2, which V8 uses): x = 2^k·(1+f) as in `log`, then
/// (f - f²/2 + k_log1p(f))/ln2 + k with the head of f - f²/2 and the sum with k in extra precision.
pub fn log2(x: f64) -> f64 {
    const IVLN2HI: f64 = f64::from_bits(0x3FF7_1547_6520_0000);
    const IVLN2LO: f64 = f64::from_bits(0x3DE7_05FC_2EEF_A200);

    let mut x = x;
    let mut hx = hi(x) as i32;
    let lx = lo(x);
    let mut k = 0i32;
    if hx < 0x0010_0000 {
        if (hx & 0x7FFF_FFFF) as u32 | lx == 0 {
            return f64::NEG_INFINITY;
        }
        if hx < 0 {
            return f64::NAN;
        }
        k -= 54;
        x *= TWO54;
        hx = hi(x) as i32;
    }
    if hx >= 0x7FF0_0000 {
        return x + x;
    }
    if hx == 0x3FF0_0000 && lx == 0 {
        return 0.0;
    }
    k += (hx >> 20) - 1023;
    hx &= 0x000F_FFFF;
    let i = (hx + 0x95F64) & 0x10_0000;
    x = with_hi(x, (hx | (i ^ 0x3FF0_0000)) as u32);
    k += i >> 20;
    let y = k as f64;
    let f = x - 1.0;
    let hfsq = 0.5 * f * f;
    let r = k_log1p(f);
    let head = with_lo(f - hfsq, 0);
    let tail = (f - head) - hfsq + r;
    let mut val_hi = head * IVLN2HI;
    let mut val_lo = (tail + head) * IVLN2LO + tail * IVLN2HI;
    let w = y + val_hi;
    val_lo += (y - w) + val_hi;
    val_hi = w;
    val_lo + val_hi
}

/// log10 x as n·log10(2) + log(x·2^-n)/ln 10, with log10(2) split in two parts (fdlibm's e_log10).
pub fn log10(x: f64) -> f64 {
    const IVLN10: f64 = f64::from_bits(0x3FDB_CB7B_1526_E50E);
    const LOG10_2HI: f64 = f64::from_bits(0x3FD3_4413_509F_6000);
    const LOG10_2LO: f64 = f64::from_bits(0x3D59_FEF3_11F1_2B36);

    let mut x = x;
    let mut hx = hi(x) as i32;
    let mut lx = lo(x);
    let mut k = 0i32;
    if hx < 0x0010_0000 {
        if (hx & 0x7FFF_FFFF) as u32 | lx == 0 {
            return f64::NEG_INFINITY;
        }
        if hx < 0 {
            return f64::NAN;
        }
        k -= 54;
        x *= TWO54;
        hx = hi(x) as i32;
        lx = lo(x);
    }
    if hx >= 0x7FF0_0000 {
        return x + x;
    }
    if hx == 0x3FF0_0000 && lx == 0 {
        return 0.0;
    }
    k += (hx >> 20) - 1023;
    let i = ((k as u32) & 0x8000_0000) >> 31;
    let i = i as i32;
    hx = (hx & 0x000F_FFFF) | ((0x3FF - i) << 20);
    let y = (k + i) as f64;
    x = from_words(hx as u32, lx);
    let z = y * LOG10_2LO + IVLN10 * log(x);
    z + y * LOG10_2HI
}

/// ∛x (FreeBSD's s_cbrt, which V8 uses): a rough estimate from the exponent bits, a polynomial to
/// 23 bits, rounded away from zero to 23 bits, then one Newton step.
pub fn cbrt(x: f64) -> f64 {
    const B1: u32 = 715_094_163;
    const B2: u32 = 696_219_795;
    const P0: f64 = f64::from_bits(0x3FFE_03E6_0F61_E692);
    const P1: f64 = f64::from_bits(0xBFFE_28E0_92F0_2420);
    const P2: f64 = f64::from_bits(0x3FF9_F160_4A49_D6C2);
    const P3: f64 = f64::from_bits(0xBFE8_44CB_BEE7_51D9);
    const P4: f64 = f64::from_bits(0x3FC2_B000_D4E4_EDD7);

    let mut hx = hi(x);
    let low = lo(x);
    let sign = hx & 0x8000_0000;
    hx ^= sign;
    if hx >= 0x7FF0_0000 {
        return x + x;
    }
    let mut t;
    if hx < 0x0010_0000 {
        if hx | low == 0 {
            return x;
        }
        t = from_words(0x4350_0000, 0) * x;
        let high = hi(t);
        t = from_words(sign | ((high & 0x7FFF_FFFF) / 3 + B2), 0);
    } else {
        t = from_words(sign | (hx / 3 + B1), 0);
    }
    let r = (t * t) * (t / x);
    t *= (P0 + r * (P1 + r * P2)) + ((r * r) * r) * (P3 + r * P4);
    t = f64::from_bits((t.to_bits().wrapping_add(0x8000_0000)) & 0xFFFF_FFFF_C000_0000);
    let s = t * t;
    let mut r = x / s;
    let w = t + t;
    r = (r - t) / (w + r);
    t + t * r
}

/// tanh x from expm1: -t/(t+2) with t = expm1(-2|x|) below 1, 1 - 2/(t+2) with t = expm1(2|x|) up
/// to 22, ±1 beyond.
pub fn tanh(x: f64) -> f64 {
    let jx = hi(x) as i32;
    let ix = jx & 0x7FFF_FFFF;
    if ix >= 0x7FF0_0000 {
        return if jx >= 0 {
            1.0 / x + 1.0
        } else {
            1.0 / x - 1.0
        };
    }
    let z;
    if ix < 0x4036_0000 {
        if ix < 0x3E30_0000 {
            return x;
        }
        if ix >= 0x3FF0_0000 {
            let t = libm::expm1(2.0 * x.abs());
            z = 1.0 - 2.0 / (t + 2.0);
        } else {
            let t = libm::expm1(-2.0 * x.abs());
            z = -t / (t + 2.0);
        }
    } else {
        z = 1.0;
    }
    if jx >= 0 {
        z
    } else {
        -z
    }
}

/// asinh x = sign(x)·log(|x| + √(x²+1)), through log for large |x| and log1p near 0.
pub fn asinh(x: f64) -> f64 {
    let hx = hi(x) as i32;
    let ix = hx & 0x7FFF_FFFF;
    if ix >= 0x7FF0_0000 {
        return x + x;
    }
    if ix < 0x3E30_0000 {
        return x;
    }
    let w = if ix > 0x41B0_0000 {
        log(x.abs()) + LN2
    } else if ix > 0x4000_0000 {
        let t = x.abs();
        log(2.0 * t + 1.0 / ((x * x + 1.0).sqrt() + t))
    } else {
        let t = x * x;
        log1p(x.abs() + t / (1.0 + (1.0 + t).sqrt()))
    };
    if hx > 0 {
        w
    } else {
        -w
    }
}

/// acosh x = log(x + √(x²-1)): log(x)+ln2 beyond 2^28, log(2x - 1/(x+√(x²-1))) above 2, log1p of
/// t + √(2t+t²) with t = x-1 below.
pub fn acosh(x: f64) -> f64 {
    let hx = hi(x) as i32;
    let lx = lo(x);
    if hx < 0x3FF0_0000 {
        f64::NAN
    } else if hx >= 0x41B0_0000 {
        if hx >= 0x7FF0_0000 {
            x + x
        } else {
            log(x) + LN2
        }
    } else if (hx - 0x3FF0_0000) as u32 | lx == 0 {
        0.0
    } else if hx > 0x4000_0000 {
        let t = x * x;
        log(2.0 * x - 1.0 / (x + (t - 1.0).sqrt()))
    } else {
        let t = x - 1.0;
        log1p(t + (2.0 * t + t * t).sqrt())
    }
}

/// atanh x = ½·log1p(2x/(1-x)), in two forms either side of ½.
pub fn atanh(x: f64) -> f64 {
    let hx = hi(x) as i32;
    let lx = lo(x);
    let ix = hx & 0x7FFF_FFFF;
    // |x| > 1, or NaN: (lx | -lx) >> 31 is 1 exactly when the low word is not zero.
    if (ix as u32 | ((lx | lx.wrapping_neg()) >> 31)) > 0x3FF0_0000 {
        return f64::NAN;
    }
    if ix == 0x3FF0_0000 {
        return if x > 0.0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    if ix < 0x3E30_0000 {
        return x;
    }
    let ax = with_hi(x, ix as u32);
    let t = if ix < 0x3FE0_0000 {
        let t = ax + ax;
        0.5 * log1p(t + t * ax / (1.0 - ax))
    } else {
        0.5 * log1p((ax + ax) / (1.0 - ax))
    };
    if hx >= 0 {
        t
    } else {
        -t
    }
}

const LOG_MAX_DOUBLE_HI: f64 = 709.7822265625; // high word 0x40862E42, low word 0
const HYPERBOLIC_OVERFLOW: f64 = 710.4758600739439;

/// sinh by V8's formulas: from expm1 below 22, from exp above, split near overflow.
pub fn sinh(x: f64) -> f64 {
    let h = if x < 0.0 { -0.5 } else { 0.5 };
    let ax = x.abs();
    if ax < 22.0 {
        if ax < f64::from_bits(0x3E30_0000_0000_0000) {
            return x;
        }
        let t = libm::expm1(ax);
        if ax < 1.0 {
            return h * (2.0 * t - t * t / (t + 1.0));
        }
        return h * (t + t / (t + 1.0));
    }
    if ax < LOG_MAX_DOUBLE_HI {
        return h * exp(ax);
    }
    if ax <= HYPERBOLIC_OVERFLOW {
        let w = exp(0.5 * ax);
        let t = h * w;
        return t * w;
    }
    x * 1.0e307
}

/// cosh by V8's formulas.
pub fn cosh(x: f64) -> f64 {
    let ix = hi(x) & 0x7fff_ffff;
    let ax = x.abs();
    if ix < 0x3FD6_2E43 {
        let t = libm::expm1(ax);
        let w = 1.0 + t;
        if ix < 0x3C80_0000 {
            return w;
        }
        return 1.0 + (t * t) / (w + w);
    }
    if ix < 0x4036_0000 {
        let t = exp(ax);
        return 0.5 * t + 0.5 / t;
    }
    if ix < 0x4086_2E42 {
        return 0.5 * exp(ax);
    }
    if ax <= HYPERBOLIC_OVERFLOW {
        let w = exp(0.5 * ax);
        let t = 0.5 * w;
        return t * w;
    }
    if x.is_nan() {
        return x;
    }
    f64::INFINITY
}

/// atan2 by fdlibm's method (the special cases of ECMA-262 §21.3.2.8, then atan of |y/x| folded into
/// the right quadrant with π split in two parts), over libm's atan (fdlibm's).
pub fn atan2(y: f64, x: f64) -> f64 {
    const PI_O_4: f64 = f64::from_bits(0x3FE9_21FB_5444_2D18);
    const PI_O_2: f64 = f64::from_bits(0x3FF9_21FB_5444_2D18);
    const PI: f64 = f64::from_bits(0x4009_21FB_5444_2D18);
    const PI_LO: f64 = f64::from_bits(0x3CA1_A626_3314_5C07);
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 1.0 {
        return libm::atan(y);
    }
    let y_neg = y.is_sign_negative();
    let x_neg = x.is_sign_negative();
    let signed = |v: f64| if y_neg { -v } else { v };
    if y == 0.0 {
        return if x_neg { signed(PI) } else { y };
    }
    if x == 0.0 {
        return signed(PI_O_2);
    }
    if x.is_infinite() {
        if y.is_infinite() {
            return signed(if x_neg { 3.0 * PI_O_4 } else { PI_O_4 });
        }
        return if x_neg { signed(PI) } else { signed(0.0) };
    }
    if y.is_infinite() {
        return signed(PI_O_2);
    }
    // The difference of the binary exponents decides whether y/x is huge or tiny.
    let k = ((hi(y) & 0x7fff_ffff) as i32 - (hi(x) & 0x7fff_ffff) as i32) >> 20;
    if k > 60 {
        return signed(PI_O_2 + 0.5 * PI_LO);
    }
    let z = if x_neg && k < -60 {
        0.0
    } else {
        libm::atan((y / x).abs())
    };
    match (y_neg, x_neg) {
        (false, false) => z,
        (true, false) => -z,
        (false, true) => PI - (z - PI_LO),
        (true, true) => (z - PI_LO) - PI,
    }
}
