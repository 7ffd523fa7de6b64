-- Argo CD health of a route (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute), from
-- status.parents: every parent entry of Albatross's controllers (of any controller when none
-- is ours) must be Accepted=True and ResolvedRefs=True for the current generation.
local ours = { ["gateway.k8s.aws/alb"] = true, ["gateway.k8s.aws/nlb"] = true }
local hs = {}
local generation = obj.metadata and obj.metadata.generation
local parents = (obj.status and obj.status.parents) or {}
local selected = {}
for _, p in ipairs(parents) do
  if ours[p.controllerName] then
    table.insert(selected, p)
  end
end
if #selected == 0 then
  selected = parents
end
if #selected == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for a Gateway controller to accept the route"
  return hs
end
local function parent_name(p)
  local ref = p.parentRef or {}
  local name = (ref.namespace and (ref.namespace .. "/") or "") .. (ref.name or "?")
  if ref.sectionName ~= nil then
    name = name .. "/" .. ref.sectionName
  end
  return name
end
local waiting = nil
for _, p in ipairs(selected) do
  local seen = {}
  for _, c in ipairs(p.conditions or {}) do
    seen[c.type] = c
    if generation ~= nil and c.observedGeneration ~= nil and c.observedGeneration < generation then
      waiting = "Waiting for the controller to observe generation " .. generation
    end
  end
  for _, type in ipairs({ "Accepted", "ResolvedRefs" }) do
    local c = seen[type]
    if c ~= nil and c.status == "False" then
      hs.status = "Degraded"
      hs.message = parent_name(p) .. ": " .. type .. "=False (" .. (c.reason or "") .. ")"
      if c.message ~= nil and c.message ~= "" then
        hs.message = hs.message .. ": " .. c.message
      end
      return hs
    end
    if c == nil or c.status ~= "True" then
      waiting = waiting or (parent_name(p) .. ": waiting for " .. type)
    end
  end
end
if waiting ~= nil then
  hs.status = "Progressing"
  hs.message = waiting
  return hs
end
hs.status = "Healthy"
hs.message = "Accepted by " .. #selected .. " parent(s)"
return hs
