#!/usr/bin/env python3
"""Writes a big multi-document manifest for `albatross validate` benchmarks.

Usage: gen-manifest.py [ROUTES] [GATEWAYS] > big.yaml   (defaults: 10000 routes, 1000 gateways)

One GatewayClass of ours (gateway.k8s.aws/alb), GATEWAYS Gateways (HTTP + HTTPS listeners)
and ROUTES HTTPRoutes spread over them, each route with two rules (path + header match,
weighted backends, a URL rewrite). Every object is valid, so the whole pipeline runs:
schema, defaults, CEL, AWS checks and cross-object references. Deterministic output.
"""
import sys

routes = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
gateways = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
out = sys.stdout.write

out("""apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: aws-alb
spec:
  controllerName: gateway.k8s.aws/alb
""")
for g in range(gateways):
    out(f"""---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw-{g}
  namespace: ns-{g % 50}
spec:
  gatewayClassName: aws-alb
  listeners:
  - name: http
    protocol: HTTP
    port: 80
    allowedRoutes:
      namespaces:
        from: All
  - name: https
    protocol: HTTPS
    port: 443
    hostname: "*.app{g}.example.com"
    tls:
      mode: Terminate
      certificateRefs:
      - name: wildcard-{g}
    allowedRoutes:
      namespaces:
        from: All
""")
for r in range(routes):
    g = r % gateways
    out(f"""---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route-{r}
  namespace: ns-{g % 50}
  labels:
    app: app-{r}
spec:
  parentRefs:
  - name: gw-{g}
    sectionName: https
  hostnames:
  - "r{r}.app{g}.example.com"
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /api/v{r % 3 + 1}
      method: GET
    - path:
        type: Exact
        value: /api/cart
      headers:
      - name: x-canary
        value: "true"
    backendRefs:
    - name: svc-{r}-v1
      port: 8080
      weight: 90
    - name: svc-{r}-v2
      port: 8080
      weight: 10
  - matches:
    - path:
        type: PathPrefix
        value: /shop{r % 7}
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /
    backendRefs:
    - name: svc-{r}-web
      port: 80
""")
