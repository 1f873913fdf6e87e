# The bridge to Python: which Python, the causalsm module, R data in, results out.

.state <- new.env(parent = emptyenv())

#' Install the causalsm Python package for R
#'
#' Creates a Python virtual environment (by default `"r-causalsm"`, the one this
#' package looks for first) and installs the causalsm Python package and its
#' dependencies (NumPy, pandas, scikit-learn, statsmodels, lifelines, PyTorch) into it
#' with pip, through [reticulate::virtualenv_create()] and [reticulate::py_install()].
#' Run it once; restart R afterwards.
#'
#' Which Python the package uses: the one named by the environment variable
#' `RETICULATE_PYTHON` if set (reticulate's rule), else the virtualenv `"r-causalsm"` if
#' it exists, else reticulate's own choice.
#'
#' @param envname Name (or path) of the virtual environment.
#' @param package What pip installs: `"causalsm"`, a path to a checkout of the
#'   repository, or any pip requirement.
#' @param python The Python used to create the environment (default: reticulate's
#'   choice of a Python 3).
#' @param ... Passed to [reticulate::py_install()].
#' @return The environment's name, invisibly.
#' @examples
#' \dontrun{
#' install_causalsm()                               # from the package index
#' install_causalsm(package = "~/src/causalsm")     # from a checkout
#' }
#' @export
install_causalsm <- function(envname = "r-causalsm", package = "causalsm",
                             python = NULL, ...) {
  if (!reticulate::virtualenv_exists(envname)) {
    if (is.null(python)) reticulate::virtualenv_create(envname)
    else reticulate::virtualenv_create(envname, python = python)
  }
  reticulate::py_install(package, envname = envname, method = "virtualenv", pip = TRUE, ...)
  invisible(envname)
}

#' Is the causalsm Python package available?
#'
#' `TRUE` when Python can be started and imports causalsm: examples and the vignette
#' run only then. See [install_causalsm()].
#'
#' @return `TRUE` or `FALSE`.
#' @examples
#' causalsm_available()
#' @export
causalsm_available <- function() {
  isTRUE(tryCatch(!is.null(py_modules()), error = function(e) FALSE))
}

choose_python <- function() {
  if (reticulate::py_available(initialize = FALSE)) return(invisible())
  if (!nzchar(Sys.getenv("RETICULATE_PYTHON")) &&
      isTRUE(tryCatch(reticulate::virtualenv_exists("r-causalsm"),
                      error = function(e) FALSE))) {
    reticulate::use_virtualenv("r-causalsm", required = FALSE)
  }
}

# The causalsm module and this package's Python helpers, imported once.
py_modules <- function() {
  if (is.null(.state$csm)) {
    choose_python()
    # A folder named causalsm in the working directory (this R package's source, or
    # R CMD check's library) is found as an empty namespace package before an
    # editable install of causalsm: import with the working directory off the path.
    problem <- reticulate::py_run_string(paste(
      "def _import_causalsm():",
      "    import importlib, os, sys",
      "    try:",
      "        if getattr(importlib.import_module('causalsm'), '__file__', None):",
      "            return ''",
      "    except ImportError as e:",
      "        return str(e)",
      "    del sys.modules['causalsm']",
      "    path = list(sys.path)",
      "    sys.path[:] = [p for p in path if os.path.abspath(p or '.') != os.getcwd()]",
      "    try:",
      "        importlib.import_module('causalsm')",
      "        return ''",
      "    except ImportError as e:",
      "        return str(e)",
      "    finally:",
      "        sys.path[:] = path",
      "problem = _import_causalsm()",
      sep = "\n"), local = TRUE)$problem
    if (nzchar(problem)) {
      stop("the Python package causalsm cannot be imported by ",
           reticulate::py_config()$python, " (", problem, "); run install_causalsm(), ",
           "or set RETICULATE_PYTHON to a Python that has it", call. = FALSE)
    }
    .state$csm <- reticulate::import("causalsm", convert = FALSE)
    .state$bridge <- reticulate::import_from_path(
      "causalsm_r", system.file("python", package = "causalsm", mustWork = TRUE),
      convert = FALSE)
  }
  .state
}

# An R data.frame for Python: logical columns become 0/1 doubles first (reticulate
# versions before 1.38 turn NA in a logical into TRUE; as doubles an NA stays missing
# and Python's error names the column).
to_python <- function(data, arg = "data") {
  if (!is.data.frame(data)) {
    stop(sprintf("`%s` must be a data.frame, not %s", arg, class(data)[1]), call. = FALSE)
  }
  for (j in seq_along(data)) {
    if (is.logical(data[[j]])) data[[j]] <- as.numeric(data[[j]])
  }
  reticulate::r_to_py(data)
}

# Call a Python function; Python's warnings become R warnings and its errors R errors
# of class "causalsm_error" with Python's message (without the traceback).
py_call <- function(fun, ...) {
  m <- py_modules()
  args <- list(...)
  named <- nzchar(names(args) %||% rep("", length(args)))
  out <- tryCatch(
    m$bridge$call(fun, do.call(reticulate::tuple, unname(args[!named])),
                  do.call(reticulate::dict, args[named])),
    error = function(e) {
      last <- reticulate::py_last_error()
      msg <- if (is.null(last)) conditionMessage(e) else last$value
      type <- if (is.null(last)) "" else last$type
      cls <- c(if (identical(type, "InputError")) "causalsm_input_error", "causalsm_error",
               "error", "condition")
      stop(structure(class = cls, list(message = msg, call = NULL)))
    })
  for (w in reticulate::py_to_r(reticulate::py_get_item(out, 1L))) {
    warning(w, call. = FALSE)
  }
  reticulate::py_get_item(out, 0L)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# A table from the bridge's frame() as an R data.frame.
as_r_table <- function(tab) {
  if (inherits(tab, "python.builtin.object")) tab <- reticulate::py_to_r(tab)
  cols <- Map(function(values, type) {
    na <- switch(type, logical = NA, integer = NA_integer_, double = NA_real_,
                 NA_character_)
    vapply(values, function(v) if (is.null(v)) na else v, na, USE.NAMES = FALSE)
  }, tab$columns, tab$types)
  names(cols) <- tab$names
  out <- as.data.frame(cols, stringsAsFactors = FALSE, check.names = FALSE)
  if (!is.null(tab$index)) rownames(out) <- unlist(tab$index)
  out
}

# A Python result object as an R list: its fields, its one-table form, its printed
# summary, and the object itself (for confint() at another level).
py_result <- function(res) {
  x <- reticulate::py_to_r(py_modules()$bridge$result(res))
  list(fields = x$fields, table = as_r_table(x$table), summary = x$summary, py = res)
}
