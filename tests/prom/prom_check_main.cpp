// prom_check FILE [PREFIX]: exit 0 when FILE is a valid Prometheus text exposition (strict; see
// prom_check.h), 1 with one line per problem otherwise. For the integration tests.
#include <fstream>
#include <iostream>
#include <sstream>

#include "prom_check.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: prom_check FILE [PREFIX]\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "prom_check: cannot open " << argv[1] << '\n';
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto file = bpftune::test::parsePrometheusText(text.str(), argc == 3 ? argv[2] : "");
  for (const std::string& error : file.errors) {
    std::cerr << argv[1] << ": " << error << '\n';
  }
  if (file.errors.empty()) {
    std::cout << argv[1] << ": " << file.samples.size() << " samples, " << file.types.size()
              << " families\n";
  }
  return file.errors.empty() ? 0 : 1;
}
