// Lint: finds rule logic that parses but cannot do what its author meant:
// patterns that can never match, CIDR ranges written as wildcards, DNS queries
// gated on the wrong event.type, exact domain lists that miss subdomains,
// IPv4-only exclusions. Every finding is a warning with a concrete fix.
#pragma once

#include "diag/diagnostic.h"
#include "eql/ast.h"
#include "event/field_types.h"

namespace pickaxe {

void lint(const eql::QuerySet& set, const FieldTypes& types, Diagnostics& diagnostics);

}  // namespace pickaxe
