//! Blocking transport for the Smartcar connections client (in progress).
