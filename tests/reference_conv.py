"""float64 numpy references for convolution, pooling and normalisation: the definitions, written
with slices of a padded input (one per kernel tap), independent of fastnn's im2col and GEMM."""
import numpy as np


def _taps(size_out, stride, dilation, k):
    """The slice of the padded input that kernel tap k meets over all outputs along one axis."""
    start = k * dilation
    return slice(start, start + stride * (size_out - 1) + 1, stride)


def conv2d(x, w, b=None, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """y[n, o, i, j] = sum over c, ki, kj of w[o, c, ki, kj] x_padded[n, c, i*s + ki*d, j*s + kj*d]."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), pad[0], pad[1]))
    oh = (h + sum(pad[0]) - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + sum(pad[1]) - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    mg = o // groups
    for g in range(groups):
        xs_g = xp[:, g * cg:(g + 1) * cg]
        for ki in range(kh):
            for kj in range(kw):
                window = xs_g[:, :, _taps(oh, stride[0], dilation[0], ki), _taps(ow, stride[1], dilation[1], kj)]
                y[:, g * mg:(g + 1) * mg] += np.einsum("nchw,oc->nohw", window, w[g * mg:(g + 1) * mg, :, ki, kj])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def conv2d_backward(dy, x, w, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """(dx, dw, db) of conv2d, tap by tap: the adjoint of each slice."""
    x, w, dy = (np.asarray(a, np.float64) for a in (x, w, dy))
    o, cg, kh, kw = w.shape
    oh, ow = dy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), pad[0], pad[1]))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    mg = o // groups
    for g in range(groups):
        dy_g = dy[:, g * mg:(g + 1) * mg]
        for ki in range(kh):
            for kj in range(kw):
                rows, cols = _taps(oh, stride[0], dilation[0], ki), _taps(ow, stride[1], dilation[1], kj)
                window = xp[:, g * cg:(g + 1) * cg, rows, cols]
                dw[g * mg:(g + 1) * mg, :, ki, kj] = np.einsum("nohw,nchw->oc", dy_g, window)
                dxp[:, g * cg:(g + 1) * cg, rows, cols] += np.einsum("nohw,oc->nchw", dy_g,
                                                                    w[g * mg:(g + 1) * mg, :, ki, kj])
    h, wd = x.shape[2:]
    dx = dxp[:, :, pad[0][0]:pad[0][0] + h, pad[1][0]:pad[1][0] + wd]
    return dx, dw, dy.sum(axis=(0, 2, 3))


def pool_output(size, k, s, p, d, ceil_mode):
    span = d * (k - 1) + 1
    count = -(-(size + 2 * p - span) // s) if ceil_mode else (size + 2 * p - span) // s
    if ceil_mode and count * s >= size + p:
        count -= 1
    return count + 1


def _pool_windows(x, kernel, stride, padding, dilation, ceil_mode, fill):
    """(windows (kh*kw, N, C, OH, OW) of the input padded with `fill` and extended for ceil mode,
    mask of which window entries are inside the padded extent torch counts, output shape)."""
    n, c, h, wd = x.shape
    oh = pool_output(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = pool_output(wd, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    extra_h = max(0, (oh - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - h - 2 * padding[0])
    extra_w = max(0, (ow - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - wd - 2 * padding[1])
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (padding[0], padding[0] + extra_h),
                                            (padding[1], padding[1] + extra_w)), constant_values=fill)
    windows = [xp[:, :, _taps(oh, stride[0], dilation[0], ki), _taps(ow, stride[1], dilation[1], kj)]
               for ki in range(kernel[0]) for kj in range(kernel[1])]
    return np.stack(windows), (oh, ow), xp.shape


def max_pool2d(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    windows, _, _ = _pool_windows(x, kernel, stride, padding, dilation, ceil_mode, -np.inf)
    return windows.max(axis=0)


def max_pool2d_backward(dy, x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Each gradient to its window's (first) maximum."""
    windows, (oh, ow), padded = _pool_windows(x, kernel, stride, padding, dilation, ceil_mode, -np.inf)
    first = windows.argmax(axis=0)
    dxp = np.zeros(padded)
    t = 0
    for ki in range(kernel[0]):
        for kj in range(kernel[1]):
            rows, cols = _taps(oh, stride[0], dilation[0], ki), _taps(ow, stride[1], dilation[1], kj)
            dxp[:, :, rows, cols] += np.where(first == t, dy, 0.0)
            t += 1
    h, wd = x.shape[2:]
    return dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd]


def _avg_divisors(shape, kernel, stride, padding, ceil_mode, count_include_pad):
    """torch's divisor of each window: clipped to the padded input, or to the input only."""
    h, wd = shape[2:]
    oh = pool_output(h, kernel[0], stride[0], padding[0], 1, ceil_mode)
    ow = pool_output(wd, kernel[1], stride[1], padding[1], 1, ceil_mode)
    div = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * stride[0] - padding[0], j * stride[1] - padding[1]
            h1, w1 = min(h0 + kernel[0], h + padding[0]), min(w0 + kernel[1], wd + padding[1])
            if count_include_pad:
                div[i, j] = (h1 - h0) * (w1 - w0)
            else:
                div[i, j] = (min(h1, h) - max(h0, 0)) * (min(w1, wd) - max(w0, 0))
    return div


def avg_pool2d(x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    windows, _, _ = _pool_windows(x, kernel, stride, padding, (1, 1), ceil_mode, 0.0)
    div = divisor_override or _avg_divisors(x.shape, kernel, stride, padding, ceil_mode, count_include_pad)
    return windows.sum(axis=0) / div


def adaptive_avg_pool2d(x, out):
    x = np.asarray(x, np.float64)
    h, wd = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    for i in range(out[0]):
        for j in range(out[1]):
            r0, r1 = i * h // out[0], -(-(i + 1) * h // out[0])
            c0, c1 = j * wd // out[1], -(-(j + 1) * wd // out[1])
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y


def batch_norm_train(x, gamma, beta, eps):
    """(y, batch mean, biased batch variance) over every axis but the channels (axis 1)."""
    x = np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * np.asarray(gamma, np.float64).reshape(shape) + np.asarray(beta, np.float64).reshape(shape), mean, var

