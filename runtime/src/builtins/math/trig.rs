//! Math.sin, Math.cos and Math.tan as Node computes them: fdlibm's method, as V8 has it.
//!
//! - |x| ≤ π/4: polynomial kernels (degree 13 for sin, 14 for cos, a rational form of degree 27 for
//!   tan), taking the argument as a head and a tail;
//! - up to about 2^19·π/2: x - n·π/2 with π/2 in 33-bit parts, a second and third part used only when
//!   the first cancels too many bits (Cody-Waite);
//! - beyond: Payne-Hanek reduction, x·2/π computed only over the 24-bit digits of 2/π that matter for
//!   the fraction (`rem_pio2_large`), then the kernels by quadrant.
//!
//! The `libm` crate's sin, cos and tan do not fit: its cosine kernel and its medium-size reduction are
//! musl's, which round differently from fdlibm's on a fraction of a percent of arguments. Rust never
//! fuses a multiply and an add, so each operation here rounds as in V8's build. The differential
//! tests in `tests.rs` compare all three with Node bit for bit.

use super::fdlibm::{from_words, hi, lo, with_lo};

/// 2^n for a normal power of two.
#[inline]
fn pow2(n: i32) -> f64 {
    f64::from_bits(((1023 + n) as u64) << 52)
}

const fn d(bits: u64) -> f64 {
    f64::from_bits(bits)
}

/// sin(x + y) for |x + y| ≤ π/4, y the tail of x (`tail` false when y is zero).
fn kernel_sin(x: f64, y: f64, tail: bool) -> f64 {
    const S1: f64 = d(0xBFC5_5555_5555_5549);
    const S2: f64 = d(0x3F81_1111_1110_F8A6);
    const S3: f64 = d(0xBF2A_01A0_19C1_61D5);
    const S4: f64 = d(0x3EC7_1DE3_57B1_FE7D);
    const S5: f64 = d(0xBE5A_E5E6_8A2B_9CEB);
    const S6: f64 = d(0x3DE5_D93A_5ACF_D57C);
    if hi(x) & 0x7FFF_FFFF < 0x3E40_0000 {
        return x;
    }
    let z = x * x;
    let v = z * x;
    let r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    if !tail {
        x + v * (S1 + z * r)
    } else {
        x - ((z * (0.5 * y - v * r) - y) - v * S1)
    }
}

/// cos(x + y) for |x + y| ≤ π/4; for |x| > 0.3 the leading 1 - x²/2 is taken as (1 - qx) - (x²/2 - qx)
/// with both parts exact.
fn kernel_cos(x: f64, y: f64) -> f64 {
    const C1: f64 = d(0x3FA5_5555_5555_554C);
    const C2: f64 = d(0xBF56_C16C_16C1_5177);
    const C3: f64 = d(0x3EFA_01A0_19CB_1590);
    const C4: f64 = d(0xBE92_7E4F_809C_52AD);
    const C5: f64 = d(0x3E21_EE9E_BDB4_B1C4);
    const C6: f64 = d(0xBDA8_FAE9_BE88_38D4);
    let ix = hi(x) & 0x7FFF_FFFF;
    if ix < 0x3E40_0000 {
        return 1.0;
    }
    let z = x * x;
    let r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    if ix < 0x3FD3_3333 {
        return 1.0 - (0.5 * z - (z * r - x * y));
    }
    let qx = if ix > 0x3FE9_0000 {
        0.28125
    } else {
        from_words(ix - 0x0020_0000, 0)
    };
    let hz = 0.5 * z - qx;
    let a = 1.0 - qx;
    a - (hz - (z * r - x * y))
}

/// tan(x + y) (`odd` false) or -1/tan(x + y) (`odd` true) for |x + y| ≤ π/4.
fn kernel_tan(x: f64, y: f64, odd: bool) -> f64 {
    const T: [f64; 13] = [
        d(0x3FD5_5555_5555_5563),
        d(0x3FC1_1111_1110_FE7A),
        d(0x3FAB_A1BA_1BB3_41FE),
        d(0x3F96_64F4_8406_D637),
        d(0x3F82_26E3_E96E_8493),
        d(0x3F6D_6D22_C956_0328),
        d(0x3F57_DBC8_FEE0_8315),
        d(0x3F43_44D8_F2F2_6501),
        d(0x3F30_26F7_1A8D_1068),
        d(0x3F14_7E88_A037_92A6),
        d(0x3F12_B80F_32F0_A7E9),
        d(0xBEF3_75CB_DB60_5373),
        d(0x3EFB_2A70_74BF_7AD4),
    ];
    const PIO4: f64 = d(0x3FE9_21FB_5444_2D18);
    const PIO4LO: f64 = d(0x3C81_A626_3314_5C07);
    let iy: i32 = if odd { -1 } else { 1 };
    let hx = hi(x) as i32;
    let ix = hx & 0x7FFF_FFFF;
    let (mut x, mut y) = (x, y);
    if ix < 0x3E30_0000 {
        if ((ix as u32 | lo(x)) as i32 | (iy + 1)) == 0 {
            return 1.0 / x.abs();
        }
        if !odd {
            return x;
        }
        // -1/(x+y), computed carefully.
        let w = x + y;
        let z = with_lo(w, 0);
        let v = y - (z - x);
        let a = -1.0 / w;
        let t = with_lo(a, 0);
        let s = 1.0 + t * z;
        return t + a * (s + t * v);
    }
    let big = ix >= 0x3FE5_9428;
    if big {
        if hx < 0 {
            x = -x;
            y = -y;
        }
        let z = PIO4 - x;
        let w = PIO4LO - y;
        x = z + w;
        y = 0.0;
    }
    let z = x * x;
    let w = z * z;
    let mut r = T[1] + w * (T[3] + w * (T[5] + w * (T[7] + w * (T[9] + w * T[11]))));
    let v = z * (T[2] + w * (T[4] + w * (T[6] + w * (T[8] + w * (T[10] + w * T[12])))));
    let s = z * x;
    r = y + z * (s * (r + v) + y);
    r += T[0] * s;
    let w = x + r;
    if big {
        let v = iy as f64;
        let sign = (1 - ((hx >> 30) & 2)) as f64;
        return sign * (v - 2.0 * (x - (w * w / (w + v) - r)));
    }
    if !odd {
        return w;
    }
    let z = with_lo(w, 0);
    let v = r - (z - x);
    let a = -1.0 / w;
    let t = with_lo(a, 0);
    let s = 1.0 + t * z;
    t + a * (s + t * v)
}

/// 2/π in 24-bit digits: 2/π = Σ TWO_OVER_PI[i]·2^(-24(i+1)).
const TWO_OVER_PI: [u32; 75] = [
    0xA2F983, 0x6E4E44, 0x1529FC, 0x2757D1, 0xF534DD, 0xC0DB62, 0x95993C, 0x439041, 0xFE5163,
    0xABDEBB, 0xC561B7, 0x246E3A, 0x424DD2, 0xE00649, 0x2EEA09, 0xD1921C, 0xFE1DEB, 0x1CB129,
    0xA73EE8, 0x8235F5, 0x2EBB44, 0x84E99C, 0x7026B4, 0x5F7E41, 0x3991D6, 0x398353, 0x39F49C,
    0x845F8B, 0xBDF928, 0x3B1FF8, 0x97FFDE, 0x05980F, 0xEF2F11, 0x8B5A0A, 0x6D1F6D, 0x367ECF,
    0x27CB09, 0xB74F46, 0x3F669E, 0x5FEA2D, 0x7527BA, 0xC7EBE5, 0xF17B3D, 0x0739F7, 0x8A5292,
    0xEA6BFB, 0x5FB11F, 0x8D5D08, 0x560330, 0x46FC7B, 0x6BABF0, 0xCFBC20, 0x9AF436, 0x1DA9E3,
    0x91615E, 0xE61B08, 0x659985, 0x5F14A0, 0x68408D, 0xFFD880, 0x4D7327, 0x310606, 0x1556CA,
    0x73A8C9, 0x60E27B, 0xC08C6B, 0x47C419, 0xC367CD, 0xDCE809, 0x2A8359, 0xC4768B, 0x961CA6,
    0xDDAF44, 0xD15719, 0x053EA5,
];

/// π/2 in 24-bit pieces.
const PIO2: [f64; 8] = [
    d(0x3FF9_21FB_4000_0000),
    d(0x3E74_442D_0000_0000),
    d(0x3CF8_4698_8000_0000),
    d(0x3B78_CC51_6000_0000),
    d(0x39F0_1B83_8000_0000),
    d(0x387A_2520_4000_0000),
    d(0x36E3_8222_8000_0000),
    d(0x3569_F31D_0000_0000),
];

/// Payne-Hanek reduction of a positive x given as 24-bit pieces `x` (x[0] scaled by 2^e0): returns
/// the last three bits of n and x - n·π/2 as a head and a tail (fdlibm's __kernel_rem_pio2 at
/// 64-bit precision, which is what fdlibm's double functions ask for).
fn rem_pio2_large(x: &[f64], e0: i32) -> (i32, f64, f64) {
    const TWO24: f64 = d(0x4170_0000_0000_0000);
    const TWON24: f64 = d(0x3E70_0000_0000_0000);
    let jk: usize = 4;
    let jp = jk;
    let jx = x.len() - 1;
    let jv = ((e0 - 3) / 24).max(0) as usize;
    let mut q0 = e0 - 24 * (jv as i32 + 1);
    let mut f = [0.0f64; 20];
    let mut q = [0.0f64; 20];
    let mut fq = [0.0f64; 20];
    let mut iq = [0i32; 20];
    for (i, fi) in f.iter_mut().take(jx + jk + 1).enumerate() {
        // f[i] = ipio2[jv - jx + i], zero before the table's start.
        *fi = match (jv + i).checked_sub(jx) {
            Some(j) => TWO_OVER_PI[j] as f64,
            None => 0.0,
        };
    }
    for i in 0..=jk {
        let mut fw = 0.0;
        for jj in 0..=jx {
            fw += x[jj] * f[jx + i - jj];
        }
        q[i] = fw;
    }
    let mut jz = jk;
    let (mut n, mut z, mut ih);
    loop {
        // Distill q[] into iq[], most significant last.
        let mut i = 0;
        let mut jj = jz;
        z = q[jz];
        while jj > 0 {
            let fw = ((TWON24 * z) as i32) as f64;
            iq[i] = (z - TWO24 * fw) as i32;
            z = q[jj - 1] + fw;
            i += 1;
            jj -= 1;
        }
        z *= pow2(q0);
        z -= 8.0 * (z * 0.125).floor();
        n = z as i32;
        z -= n as f64;
        ih = 0;
        if q0 > 0 {
            let i = iq[jz - 1] >> (24 - q0);
            n += i;
            iq[jz - 1] -= i << (24 - q0);
            ih = iq[jz - 1] >> (23 - q0);
        } else if q0 == 0 {
            ih = iq[jz - 1] >> 23;
        } else if z >= 0.5 {
            ih = 2;
        }
        if ih > 0 {
            n += 1;
            let mut carry = 0;
            for v in iq.iter_mut().take(jz) {
                let jv = *v;
                if carry == 0 {
                    if jv != 0 {
                        carry = 1;
                        *v = 0x100_0000 - jv;
                    }
                } else {
                    *v = 0xFF_FFFF - jv;
                }
            }
            if q0 == 1 {
                iq[jz - 1] &= 0x7F_FFFF;
            } else if q0 == 2 {
                iq[jz - 1] &= 0x3F_FFFF;
            }
            if ih == 2 {
                z = 1.0 - z;
                if carry != 0 {
                    z -= pow2(q0);
                }
            }
        }
        // The fraction cancelled to zero so far: take more digits of 2/π.
        if z == 0.0 {
            let mut acc = 0;
            for v in iq.iter().take(jz).skip(jk) {
                acc |= *v;
            }
            if acc == 0 {
                let mut k = 1;
                while k <= jk && iq[jk - k] == 0 {
                    k += 1;
                }
                for i in jz + 1..=jz + k {
                    f[jx + i] = TWO_OVER_PI[jv + i] as f64;
                    let mut fw = 0.0;
                    for jj in 0..=jx {
                        fw += x[jj] * f[jx + i - jj];
                    }
                    q[i] = fw;
                }
                jz += k;
                continue;
            }
        }
        break;
    }
    if z == 0.0 {
        jz -= 1;
        q0 -= 24;
        while iq[jz] == 0 {
            jz -= 1;
            q0 -= 24;
        }
    } else {
        z *= pow2(-q0);
        if z >= TWO24 {
            let fw = ((TWON24 * z) as i32) as f64;
            iq[jz] = (z - TWO24 * fw) as i32;
            jz += 1;
            q0 += 24;
            iq[jz] = fw as i32;
        } else {
            iq[jz] = z as i32;
        }
    }
    let mut fw = pow2(q0);
    for i in (0..=jz).rev() {
        q[i] = fw * iq[i] as f64;
        fw *= TWON24;
    }
    for i in (0..=jz).rev() {
        let mut fw = 0.0;
        let mut k = 0;
        while k <= jp && k <= jz - i {
            fw += PIO2[k] * q[i + k];
            k += 1;
        }
        fq[jz - i] = fw;
    }
    let mut fw = 0.0;
    for i in (0..=jz).rev() {
        fw += fq[i];
    }
    let y0 = if ih == 0 { fw } else { -fw };
    let mut fw = fq[0] - fw;
    for v in fq.iter().take(jz + 1).skip(1) {
        fw += *v;
    }
    let y1 = if ih == 0 { fw } else { -fw };
    (n & 7, y0, y1)
}

/// x - n·π/2 as a head and a tail, with n (fdlibm's __ieee754_rem_pio2).
fn rem_pio2(x: f64) -> (i32, f64, f64) {
    const NPIO2_HW: [u32; 32] = [
        0x3FF921FB, 0x400921FB, 0x4012D97C, 0x401921FB, 0x401F6A7A, 0x4022D97C, 0x4025FDBB,
        0x402921FB, 0x402C463A, 0x402F6A7A, 0x4031475C, 0x4032D97C, 0x40346B9C, 0x4035FDBB,
        0x40378FDB, 0x403921FB, 0x403AB41B, 0x403C463A, 0x403DD85A, 0x403F6A7A, 0x40407E4C,
        0x4041475C, 0x4042106C, 0x4042D97C, 0x4043A28C, 0x40446B9C, 0x404534AC, 0x4045FDBB,
        0x4046C6CB, 0x40478FDB, 0x404858EB, 0x404921FB,
    ];
    const INVPIO2: f64 = d(0x3FE4_5F30_6DC9_C883);
    const PIO2_1: f64 = d(0x3FF9_21FB_5440_0000);
    const PIO2_1T: f64 = d(0x3DD0_B461_1A62_6331);
    const PIO2_2: f64 = d(0x3DD0_B461_1A60_0000);
    const PIO2_2T: f64 = d(0x3BA3_198A_2E03_7073);
    const PIO2_3: f64 = d(0x3BA3_198A_2E00_0000);
    const PIO2_3T: f64 = d(0x397B_839A_2520_49C1);

    let hx = hi(x) as i32;
    let ix = (hx & 0x7FFF_FFFF) as u32;
    if ix <= 0x3FE9_21FB {
        return (0, x, 0.0);
    }
    if ix < 0x4002_D97C {
        // |x| < 3π/4: n = ±1.
        if hx > 0 {
            let mut z = x - PIO2_1;
            if ix != 0x3FF9_21FB {
                let y0 = z - PIO2_1T;
                return (1, y0, (z - y0) - PIO2_1T);
            }
            z -= PIO2_2;
            let y0 = z - PIO2_2T;
            return (1, y0, (z - y0) - PIO2_2T);
        }
        let mut z = x + PIO2_1;
        if ix != 0x3FF9_21FB {
            let y0 = z + PIO2_1T;
            return (-1, y0, (z - y0) + PIO2_1T);
        }
        z += PIO2_2;
        let y0 = z + PIO2_2T;
        return (-1, y0, (z - y0) + PIO2_2T);
    }
    if ix <= 0x4139_21FB {
        // Medium size: Cody-Waite with up to three parts of π/2.
        let t = x.abs();
        let n = (t * INVPIO2 + 0.5) as i32;
        let f_n = n as f64;
        let mut r = t - f_n * PIO2_1;
        let mut w = f_n * PIO2_1T;
        let y0;
        if n < 32 && ix != NPIO2_HW[(n - 1) as usize] {
            y0 = r - w;
        } else {
            let j = (ix >> 20) as i32;
            let mut y = r - w;
            let mut i = j - ((hi(y) >> 20) & 0x7FF) as i32;
            if i > 16 {
                let t = r;
                w = f_n * PIO2_2;
                r = t - w;
                w = f_n * PIO2_2T - ((t - r) - w);
                y = r - w;
                i = j - ((hi(y) >> 20) & 0x7FF) as i32;
                if i > 49 {
                    let t = r;
                    w = f_n * PIO2_3;
                    r = t - w;
                    w = f_n * PIO2_3T - ((t - r) - w);
                    y = r - w;
                }
            }
            y0 = y;
        }
        let y1 = (r - y0) - w;
        return if hx < 0 { (-n, -y0, -y1) } else { (n, y0, y1) };
    }
    if ix >= 0x7FF0_0000 {
        return (0, f64::NAN, f64::NAN);
    }
    // Large: split |x| into three 24-bit pieces scaled by 2^-e0.
    let e0 = (ix >> 20) as i32 - 1046;
    let mut z = from_words(ix.wrapping_sub((e0 as u32) << 20), lo(x));
    let mut tx = [0.0f64; 3];
    for t in tx.iter_mut().take(2) {
        *t = (z as i32) as f64;
        z = (z - *t) * d(0x4170_0000_0000_0000);
    }
    tx[2] = z;
    let mut nx = 3;
    while tx[nx - 1] == 0.0 {
        nx -= 1;
    }
    let (n, y0, y1) = rem_pio2_large(&tx[..nx], e0);
    if hx < 0 {
        (-n, -y0, -y1)
    } else {
        (n, y0, y1)
    }
}

/// Math.sin as V8 computes it.
pub fn sin(x: f64) -> f64 {
    let ix = hi(x) & 0x7FFF_FFFF;
    if ix <= 0x3FE9_21FB {
        return kernel_sin(x, 0.0, false);
    }
    if ix >= 0x7FF0_0000 {
        return f64::NAN;
    }
    let (n, y0, y1) = rem_pio2(x);
    match n & 3 {
        0 => kernel_sin(y0, y1, true),
        1 => kernel_cos(y0, y1),
        2 => -kernel_sin(y0, y1, true),
        _ => -kernel_cos(y0, y1),
    }
}

/// Math.cos as V8 computes it.
pub fn cos(x: f64) -> f64 {
    let ix = hi(x) & 0x7FFF_FFFF;
    if ix <= 0x3FE9_21FB {
        return kernel_cos(x, 0.0);
    }
    if ix >= 0x7FF0_0000 {
        return f64::NAN;
    }
    let (n, y0, y1) = rem_pio2(x);
    match n & 3 {
        0 => kernel_cos(y0, y1),
        1 => -kernel_sin(y0, y1, true),
        2 => -kernel_cos(y0, y1),
        _ => kernel_sin(y0, y1, true),
    }
}

/// Math.tan as V8 computes it.
pub fn tan(x: f64) -> f64 {
    let ix = hi(x) & 0x7FFF_FFFF;
    if ix <= 0x3FE9_21FB {
        return kernel_tan(x, 0.0, false);
    }
    if ix >= 0x7FF0_0000 {
        return f64::NAN;
    }
    let (n, y0, y1) = rem_pio2(x);
    kernel_tan(y0, y1, n & 1 != 0)
}
