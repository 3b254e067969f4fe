/* Inner loop of upper_matmat (_symmetric.pyx): one panel of 8 columns over rows [row_start, row_stop)
 * of an upper-triangle CSR matrix U:  out[i,:] += U_ij x[j,:]  and, for j != i,  out[j,:] += U_ij x[i,:].
 * Rows of x and out are `stride` doubles apart; the panel is x[., 0:8], out[., 0:8].
 * GCC/Clang vector extensions make the 8-wide updates SIMD on any x86-64/ARM baseline; other compilers
 * get the plain loops. */
#include <stdint.h>
#include <string.h>

#define QWEM_PANEL 8

#if defined(__GNUC__)
/* may_alias: rows of double arrays are read and written through this type (as SSE2's own __m128d allows) */
typedef double qwem_v2d __attribute__((vector_size(16), aligned(8), may_alias));

static inline void qwem_panel_rows(const int64_t *indptr, const int32_t *indices, const double *data,
                                   const double *x, double *out, int64_t stride,
                                   int64_t row_start, int64_t row_stop)
{
    for (int64_t i = row_start; i < row_stop; i++) {
        const qwem_v2d *xi = (const qwem_v2d *)(x + i * stride);
        qwem_v2d xi0 = xi[0], xi1 = xi[1], xi2 = xi[2], xi3 = xi[3];
        qwem_v2d a0 = {0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            int64_t j = indices[p];
            double u = data[p];
            qwem_v2d uu = {u, u};
            const qwem_v2d *xj = (const qwem_v2d *)(x + j * stride);
            a0 += uu * xj[0]; a1 += uu * xj[1]; a2 += uu * xj[2]; a3 += uu * xj[3];
            if (j != i) {
                qwem_v2d *oj = (qwem_v2d *)(out + j * stride);
                oj[0] += uu * xi0; oj[1] += uu * xi1; oj[2] += uu * xi2; oj[3] += uu * xi3;
            }
        }
        qwem_v2d *oi = (qwem_v2d *)(out + i * stride);
        oi[0] += a0; oi[1] += a1; oi[2] += a2; oi[3] += a3;
    }
}
#else
static inline void qwem_panel_rows(const int64_t *indptr, const int32_t *indices, const double *data,
                                   const double *x, double *out, int64_t stride,
                                   int64_t row_start, int64_t row_stop)
{
    for (int64_t i = row_start; i < row_stop; i++) {
        double acc[QWEM_PANEL] = {0.0};
        const double *xi = x + i * stride;
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++) {
            int64_t j = indices[p];
            double u = data[p];
            const double *xj = x + j * stride;
            for (int c = 0; c < QWEM_PANEL; c++) acc[c] += u * xj[c];
            if (j != i) {
                double *oj = out + j * stride;
                for (int c = 0; c < QWEM_PANEL; c++) oj[c] += u * xi[c];
            }
        }
        for (int c = 0; c < QWEM_PANEL; c++) out[i * stride + c] += acc[c];
    }
}
#endif

/* As qwem_panel_rows, for U = the upper triangle of S = 4 A / (A + B) computed on the fly from the upper
 * triangle of A (values `a`, float or double: the _f and _d versions), with B_ij = half_k (r_i q_j + r_j q_i):
 * `rq` holds (r_j, q_j) (pair rate, noise) interleaved, so one cache line serves both. S is never stored. */
static inline double qwem_target_entry(double a, double half_k, double ri, double qi, const double *rq_j)
{
    return 4.0 * a / (a + half_k * (ri * rq_j[1] + rq_j[0] * qi));   /* S_ij = 4 A_ij / (A_ij + B_ij) */
}


/* qwem_panel_rows_target_tiled_f / _d: as qwem_panel_rows, for U = the upper triangle of S computed entry by
 * entry (qwem_target_entry), with the columns j cut into tiles of `tile` rows of x and out: every row's
 * entries in one tile, then the next tile. The gathers x[j,:] and scatters out[j,:] of a tile stay within
 * 2 x tile x 64 bytes instead of jumping over all n rows; rows i move on through `cursor` (one int64 per
 * row of the range, the caller's scratch), their next entry at or past the tile. A row's sum is added up
 * per tile (tile >= n: one pass, qwem_panel_rows's order). */
#if defined(__GNUC__)
#define QWEM_TILE_ROW_START                                                                                 \
            const qwem_v2d *xi = (const qwem_v2d *)(x + i * stride);                                        \
            qwem_v2d xi0 = xi[0], xi1 = xi[1], xi2 = xi[2], xi3 = xi[3];                                    \
            qwem_v2d a0 = {0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;
#define QWEM_TILE_ENTRY                                                                                     \
                qwem_v2d uu = {u, u};                                                                       \
                const qwem_v2d *xj = (const qwem_v2d *)(x + j * stride);                                    \
                a0 += uu * xj[0]; a1 += uu * xj[1]; a2 += uu * xj[2]; a3 += uu * xj[3];                     \
                if (j != i) {                                                                               \
                    qwem_v2d *oj = (qwem_v2d *)(out + j * stride);                                          \
                    oj[0] += uu * xi0; oj[1] += uu * xi1; oj[2] += uu * xi2; oj[3] += uu * xi3;             \
                }
#define QWEM_TILE_ROW_END                                                                                   \
            qwem_v2d *oi = (qwem_v2d *)(out + i * stride);                                                  \
            oi[0] += a0; oi[1] += a1; oi[2] += a2; oi[3] += a3;
#else
#define QWEM_TILE_ROW_START                                                                                 \
            double xi[QWEM_PANEL], acc[QWEM_PANEL] = {0.0};                                                 \
            memcpy(xi, x + i * stride, sizeof(xi));
#define QWEM_TILE_ENTRY                                                                                     \
                const double *xj = x + j * stride;                                                          \
                for (int c = 0; c < QWEM_PANEL; c++) acc[c] += u * xj[c];                                   \
                if (j != i) {                                                                               \
                    double *oj = out + j * stride;                                                          \
                    for (int c = 0; c < QWEM_PANEL; c++) oj[c] += u * xi[c];                                \
                }
#define QWEM_TILE_ROW_END                                                                                   \
            for (int c = 0; c < QWEM_PANEL; c++) out[i * stride + c] += acc[c];
#endif
#define QWEM_PANEL_TARGET_TILED(NAME, REAL)                                                                  \
static inline void NAME(const int64_t *indptr, const int32_t *indices, const REAL *a, const double *rq,     \
                        double half_k, const double *x, double *out, int64_t stride, int64_t row_start,     \
                        int64_t row_stop, int64_t n, int64_t tile, int64_t *cursor)                         \
{                                                                                                           \
    for (int64_t i = row_start; i < row_stop; i++) cursor[i - row_start] = indptr[i];                       \
    for (int64_t lo = row_start; lo < n; lo += tile) {        /* j >= i >= row_start */                     \
        const int64_t hi = lo + tile < n ? lo + tile : n;                                                   \
        const int64_t last_row = row_stop < hi ? row_stop : hi;     /* rows i <= j < hi */                  \
        for (int64_t i = row_start; i < last_row; i++) {                                                    \
            int64_t p = cursor[i - row_start];                                                              \
            const int64_t end = indptr[i + 1];                                                              \
            if (p == end || indices[p] >= hi) continue;                                                     \
            const double ri = rq[2 * i], qi = rq[2 * i + 1];                                                \
            QWEM_TILE_ROW_START                                                                             \
            for (; p < end && indices[p] < hi; p++) {                                                       \
                int64_t j = indices[p];                                                                     \
                double u = qwem_target_entry((double)a[p], half_k, ri, qi, rq + 2 * j);                     \
                QWEM_TILE_ENTRY                                                                             \
            }                                                                                               \
            cursor[i - row_start] = p;                                                                      \
            QWEM_TILE_ROW_END                                                                               \
        }                                                                                                   \
    }                                                                                                       \
}
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_f, float)
QWEM_PANEL_TARGET_TILED(qwem_panel_rows_target_tiled_d, double)
