// The status page: one self-contained HTML file (inline CSS and JavaScript, nothing fetched
// from elsewhere) that reads /status.json from the node that served it, draws the ring as SVG
// arcs in each node's colour, lists the members, and refreshes itself every few seconds. Its
// source is status_page.html beside this header, compiled in at build time.
#pragma once

#include <string>

namespace thrifty::diststore {

// The page, with `initial_status` (the /status.json document at the time it is served) inlined
// so that it shows the cluster before its first fetch.
std::string StatusPageHtml(const std::string& initial_status);

}  // namespace thrifty::diststore
