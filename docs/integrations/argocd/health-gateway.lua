-- Argo CD health of a Gateway (gateway.networking.k8s.io), from its conditions:
-- Healthy once Programmed=True for the current generation, Degraded when Accepted=False or
-- Programmed=False for a reason other than Pending, Progressing otherwise.
local hs = {}
local function condition(conditions, type)
  for _, c in ipairs(conditions or {}) do
    if c.type == type then
      return c
    end
  end
  return nil
end
local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.type .. "=" .. c.status .. " (" .. (c.reason or "") .. "): " .. c.message
  end
  return c.type .. "=" .. c.status .. " (" .. (c.reason or "") .. ")"
end
local generation = obj.metadata and obj.metadata.generation
local conditions = obj.status and obj.status.conditions
if conditions == nil or #conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to report the Gateway's status"
  return hs
end
for _, c in ipairs(conditions) do
  if (c.type == "Accepted" or c.type == "Programmed") and generation ~= nil
      and c.observedGeneration ~= nil and c.observedGeneration < generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the controller to observe generation " .. generation
    return hs
  end
end
local accepted = condition(conditions, "Accepted")
local programmed = condition(conditions, "Programmed")
if accepted ~= nil and accepted.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(accepted)
  return hs
end
if programmed ~= nil and programmed.status == "True" then
  hs.status = "Healthy"
  local addresses = {}
  for _, a in ipairs((obj.status and obj.status.addresses) or {}) do
    table.insert(addresses, a.value)
  end
  if #addresses > 0 then
    hs.message = "Programmed: " .. table.concat(addresses, ", ")
  else
    hs.message = "Programmed"
  end
  return hs
end
if programmed ~= nil and programmed.status == "False" and programmed.reason ~= "Pending" then
  hs.status = "Degraded"
  hs.message = describe(programmed)
  return hs
end
hs.status = "Progressing"
if programmed ~= nil then
  hs.message = describe(programmed)
else
  hs.message = "Waiting for the Gateway to be programmed"
end
return hs
