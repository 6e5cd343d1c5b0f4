#ifndef CLAW_NCURSESW_SHIM_H
#define CLAW_NCURSESW_SHIM_H
/* Wide-character ncurses for the clawtop terminal driver. Swift cannot call variadic functions
 * or function-like macros, so the few the driver needs are wrapped here as static inline functions. */
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <ncursesw/curses.h>
#include <wchar.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <termios.h>

/* The terminal's real size, for when a SIGWINCH went to another thread and ncurses missed it. */
static inline int claw_tty_size(int *rows, int *cols) {
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}

static inline int claw_lines(void) { return LINES; }
static inline int claw_cols(void) { return COLS; }
static inline int claw_color_pair(int pair) { return COLOR_PAIR(pair); }
static inline int claw_colors(void) { return COLORS; }
static inline int claw_color_pairs(void) { return COLOR_PAIRS; }
static inline WINDOW *claw_stdscr(void) { return stdscr; }
static inline int claw_key_resize(void) { return KEY_RESIZE; }
static inline int claw_err(void) { return ERR; }
static inline int claw_ok(void) { return OK; }
static inline attr_t claw_a_bold(void) { return A_BOLD; }
static inline attr_t claw_a_reverse(void) { return A_REVERSE; }
static inline attr_t claw_a_dim(void) { return A_DIM; }
static inline attr_t claw_a_underline(void) { return A_UNDERLINE; }

/* Put one cell: a single character (as UTF-32) with attributes and a colour pair. */
static inline int claw_put_cell(int y, int x, wchar_t ch, attr_t attrs, short pair) {
    wchar_t text[2] = { ch, 0 };
    cchar_t cell;
    if (setcchar(&cell, text, attrs, pair, NULL) != OK) return ERR;
    return mvadd_wch(y, x, &cell);
}

/* Read one key: returns KEY_CODE_YES for function keys, OK for characters, ERR on timeout. */
static inline int claw_get_key(wint_t *key) { return get_wch(key); }

/* Ctrl-C as a key (byte 3) rather than SIGINT, so the console decides what it means; Ctrl-Z and
   Ctrl-\ keep their signals. Saved as curses' program mode, so a resume after Ctrl-Z keeps it. */
static inline int claw_ctrl_c_as_key(void) {
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) != 0) return -1;
    t.c_cc[VINTR] = _POSIX_VDISABLE;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) != 0) return -1;
    def_prog_mode();
    return 0;
}

/* Whether the terminfo database has an entry for `name` (without starting curses). */
#include <ncursesw/term.h>
static inline int claw_has_terminfo(const char *name) {
    int err = 0;
    if (setupterm((char *)name, STDOUT_FILENO, &err) != OK) return 0;
    del_curterm(cur_term);
    return 1;
}

/* Start curses on `name` like initscr, but return 0 instead of exiting when it cannot. */
static inline int claw_newterm(const char *name) {
    SCREEN *screen = newterm(name, stdout, stdin);
    if (screen == NULL) return 0;
    set_term(screen);
    return 1;
}
#endif
